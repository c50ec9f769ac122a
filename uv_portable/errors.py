"""The errors a user can cause, each with a hint and its own exit code.

Exit codes (documented in docs/usage.md):
  1  verification found problems (``check``, or ``export`` refusing its own result)
  2  usage: bad arguments or output location
  3  unexpected crash (a log file is written)
  4  the source environment is unusable (missing, not a venv, base interpreter gone)
  5  refused: something in the environment cannot be made portable
  6  I/O failure while reading the source or writing the output
  130 interrupted
"""

from __future__ import annotations

import errno
import os


class UvPortableError(Exception):
    """An error caused by the user's input: printed as one line plus a hint."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(UvPortableError):
    """Bad arguments or an output location that cannot be used."""

    exit_code = 2


class VerifyError(UvPortableError):
    """The result does not pass verification."""

    exit_code = 1


class SourceError(UvPortableError):
    """The source venv or its base interpreter is missing or unsupported."""

    exit_code = 4


class RefusedError(UvPortableError):
    """Something in the environment cannot be made portable."""

    exit_code = 5


class OutputError(UvPortableError):
    """Reading the source or writing the output failed (disk full, permissions)."""

    exit_code = 6


class ToolError(UvPortableError):
    """An external tool (patchelf, uv) failed; the message carries its stderr."""

    exit_code = 6

    def __init__(self, message: str, hint: str = "", output: str = "") -> None:
        super().__init__(message, hint)
        self.output = output


class Interrupted(BaseException):
    """Raised by the signal handler (uv_portable.interrupts) for Ctrl-C and SIGTERM until the
    output is published, so that cleanup runs and the run exits 130."""


def io_error(exc: OSError, path: os.PathLike[str] | str | None, writing: bool) -> OutputError:
    """Turn an OSError into a one-line OutputError with a useful hint."""
    if exc.errno == errno.ENOSPC:
        return OutputError(
            f"no space left on the device while writing {path}",
            "free some space or choose an output folder on another disk",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        verb = "write" if writing else "read"
        return OutputError(
            f"cannot {verb} {path}: permission denied",
            "fix the permissions of that file, or run as a user who can read the environment",
        )
    return OutputError(f"{'writing' if writing else 'reading'} {path} failed: {exc.strerror}")
