"""The command line: parse options, call uv_portable.api, map errors to exit codes. No logic."""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Annotated, Optional

import typer

from uv_portable import __version__, api
from uv_portable.errors import Interrupted, UvPortableError
from uv_portable.model import Plan
from uv_portable.plan import ExportOptions

# typer vendors click in recent versions and depends on it in older ones: find its base class.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)

app = typer.Typer(
    name="uv-portable",
    help="Make uv virtual environments self-contained and relocatable.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _say(message: str) -> None:
    print(f"uv-portable: {message}", file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        print(f"uv-portable {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Make uv virtual environments self-contained and relocatable."""


@app.command()
def export(
    src: Annotated[Path, typer.Argument(help="The venv to export (e.g. .venv).")],
    out: Annotated[Path, typer.Argument(help="The output folder (must not exist or be empty).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    keep_tests: Annotated[
        bool, typer.Option("--keep-tests", help="Keep the standard library's test suite.")
    ] = False,
    keep_config: Annotated[
        bool, typer.Option("--keep-config", help="Keep lib/pythonX.Y/config-* (static libpython).")
    ] = False,
    exclude: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.9
        typer.Option("--exclude", help="Leave out output paths matching this glob (repeatable)."),
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip the check of the result.")
    ] = False,
) -> None:
    """Export SRC as a self-contained, relocatable Python environment at OUT."""
    options = ExportOptions(
        keep_tests=keep_tests, keep_config=keep_config, exclude=tuple(exclude or ())
    )
    if dry_run:
        plan = api.plan_export(src, options)
        if as_json:
            print(json.dumps(plan.to_json(), indent=2))
        else:
            _print_plan(plan)
        api.refuse_if_needed(plan)
        return
    result = api.export(src, out, options, force=force, verify=not no_verify, say=_say)
    if as_json:
        summary = {
            "output": str(result.out),
            "files": result.files,
            "bytes": result.bytes,
            "patched_binaries": result.patched,
            "seconds": round(result.seconds, 3),
            "notes": list(result.plan.notes),
            "findings": [
                {"severity": f.severity, "code": f.code, "path": f.path, "message": f.message}
                for f in result.findings
            ],
        }
        print(json.dumps(summary, indent=2))
        return
    for f in result.findings:
        if f.severity == "warning":
            _say(f"warning: {f.path}: {f.message}")
    base = result.plan.source.base
    _say(
        f"exported {result.plan.source.path} (CPython {base.version_str}) to {result.out}: "
        f"{result.files} files, {result.bytes / 1e6:.1f} MB, {result.patched} binaries patched, "
        f"{result.seconds:.1f}s"
    )


def _print_plan(plan: Plan) -> None:
    from uv_portable.model import CopyFile, MakeDir, MakeSymlink, SetSearchPath, WriteFile

    base = plan.source.base
    print(f"source:  {plan.source.path}")
    print(f"base:    CPython {base.version_str} at {base.prefix} ({base.platform})")
    print(
        f"copy:    {plan.count(CopyFile)} files, {plan.count(MakeDir)} folders, "
        f"{plan.count(MakeSymlink)} symlinks"
    )
    for action in plan.actions:
        if isinstance(action, WriteFile):
            print(f"write:   {action.dest} ({action.reason})")
        elif isinstance(action, SetSearchPath):
            old, new = ":".join(action.old) or "-", ":".join(action.entries) or "-"
            print(f"patch:   {action.dest} RUNPATH {old} -> {new}")
    for note in plan.notes:
        print(f"note:    {note}")
    for f in plan.findings:
        if f.severity != "info":
            print(f"{f.severity}: {f.path}: {f.message}")


def _log_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "uv-portable" / "uv-portable.log"


def _crash(exc: BaseException) -> int:
    log = _log_path()
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as fh:
            fh.write(f"uv-portable {__version__}\nargv: {sys.argv}\n\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        where = f"the full log is in {log}"
    except OSError:
        where = "no log could be written"
    _say(f"unexpected error: {type(exc).__name__}: {exc}")
    _say(f"  this is a bug in uv-portable; {where}; please report it")
    return 3


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("Ctrl-C")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (errors are printed, never raised)."""
    command = typer.main.get_command(app)
    # Ctrl-C must unwind through our cleanup, not be turned into an exit code by the CLI
    # framework, so it arrives as our own exception. An ignored SIGINT stays ignored.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        code = command.main(args=argv, prog_name="uv-portable", standalone_mode=False)
        if isinstance(code, int):
            return code  # non-standalone typer returns the code of an Exit
    except UvPortableError as exc:
        _say(f"error: {exc.message}")
        if exc.hint:
            _say(f"  hint: {exc.hint}")
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except _ClickException as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except (KeyboardInterrupt, Interrupted, typer.Abort):
        _say("interrupted; nothing was written")
        return 130
    except Exception as exc:
        return _crash(exc)
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
