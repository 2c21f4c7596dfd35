"""Exact DSP engine: volume, loudness (BS.1770 + true-peak limiter), peak, speed, pitch, denoise.

Never imports torch. Audio is float64 [frames, channels] at any rate and channel count.
See engine.py for the accepted argument ranges.
"""

from ming_edit.dsp.engine import (
    DspResult,
    apply_operation,
    apply_operations,
    validate_operation,
)

__all__ = [
    "DspResult",
    "apply_operation",
    "apply_operations",
    "validate_operation",
]
