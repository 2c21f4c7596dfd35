"""User-facing errors: each one renders as a single line and a documented exit code.

Exit codes: 0 ok, 1 bad audio / runtime failure, 2 usage, 3 model needed or wrong checkpoint,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations


class MingEditError(Exception):
    """An error the user can meet and fix; the CLI prints ``str(err)`` as one line."""

    exit_code: int = 1


class UsageError(MingEditError):
    """Bad arguments or an instruction the tool does not understand."""

    exit_code = 2


class AudioError(MingEditError):
    """Input audio that cannot be read or processed (missing, corrupt, silent, NaN...)."""


class DeviceError(MingEditError):
    """A device that was asked for but is not there, or ran out of memory."""


class ModelNeededError(MingEditError):
    """The request needs model weights that were not provided."""

    exit_code = 3


class CheckpointError(MingEditError):
    """A checkpoint directory that is missing, incomplete, corrupt or of the wrong kind."""

    exit_code = 3


class Terminated(KeyboardInterrupt):
    """SIGTERM while an output was being written: handled like Ctrl-C (cleanup, then exit 143)."""

    exit_code = 143
