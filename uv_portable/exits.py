"""How a run ends: a user error is one line and a hint with its own exit code, Ctrl-C is 130,
anything unexpected is exit 3 with a log file. The CLI framework's own exits stay in cli.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from uv_portable import __version__
from uv_portable.errors import Interrupted, ToolError, UvPortableError

INTERRUPTED = 130
CRASHED = 3


def say(message: str) -> None:
    """Print one line of uv-portable's own output to stderr."""
    print(f"uv-portable: {message}", file=sys.stderr)


def show_error(exc: UvPortableError) -> int:
    """Print a user error (and an external tool's last words) and return its exit code."""
    if isinstance(exc, ToolError) and exc.output:  # show the end of what the tool said
        lines = [line for line in exc.output.splitlines() if line.strip()][-20:]
        if lines and lines[-1].strip() in exc.message:  # said once, in the message
            lines.pop()
        for line in lines:
            print(f"  | {line}", file=sys.stderr)
    say(f"error: {exc.message}")
    if exc.hint:
        say(f"  hint: {exc.hint}")
    return exc.exit_code


def exit_code_for(exc: BaseException) -> int:
    """Print what a run that ended with exc should say, and return its exit code."""
    if isinstance(exc, UvPortableError):
        return show_error(exc)
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        say("interrupted; nothing was written")
        return INTERRUPTED
    return _crash(exc)


def _log_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "uv-portable" / "uv-portable.log"


def _crash(exc: BaseException) -> int:
    """An unexpected error: a short report, and the traceback in a log file."""
    log = _log_path()
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as fh:
            fh.write(f"uv-portable {__version__}\nargv: {sys.argv}\n\n")
            import traceback

            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        where = f"the full log is in {log}"
    except OSError:
        where = "no log could be written"
    say(f"unexpected error: {type(exc).__name__}: {exc}")
    say(f"  this is a bug in uv-portable; {where}; please report it")
    return CRASHED
