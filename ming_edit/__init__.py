"""ming-edit: command-line speech editing (exact DSP engine + Ming-UniAudio model stack)."""

__version__ = "0.1.0"
