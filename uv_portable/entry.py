"""The console entry point: answers `--version` and `config --check` (the pre-commit hook)
before the CLI framework is imported, and hands everything else to uv_portable.cli."""

from __future__ import annotations

import sys
from pathlib import Path

from uv_portable import __version__
from uv_portable.errors import UvPortableError
from uv_portable.exits import show_error


def _config_check_args(argv: list[str]) -> tuple[list[Path], str | None] | None:
    """(paths, target) when argv is exactly `config --check [PATH...] [--target NAME]`."""
    if not argv or argv[0] != "config" or argv.count("--check") != 1:
        return None
    paths: list[Path] = []
    target: str | None = None
    rest = [a for a in argv[1:] if a != "--check"]
    while rest:
        arg = rest.pop(0)
        if arg == "--target" and rest and target is None and not rest[0].startswith("-"):
            target = rest.pop(0)
        elif arg.startswith("--target=") and target is None and len(arg) > len("--target="):
            target = arg[len("--target=") :]
        elif arg.startswith("-"):
            return None  # anything else (--help, --json, --) is the CLI framework's job
        else:
            paths.append(Path(arg))
    return paths, target


def quick(argv: list[str]) -> int | None:
    """The exit code of a command answered without the CLI framework, or None."""
    if argv == ["--version"]:
        print(f"uv-portable {__version__}")
        return 0
    parsed = _config_check_args(argv)
    if parsed is None:
        return None
    from uv_portable.config import check_config

    try:
        for path in parsed[0] or [Path(".")]:
            check_config(path, parsed[1])
    except UvPortableError as exc:
        return show_error(exc)
    return 0


def main() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    try:
        code = quick(argv)
        if code is None:
            from uv_portable.cli import run  # Ctrl-C while this loads: nothing has started

            code = run(argv)
    except KeyboardInterrupt:
        from uv_portable.exits import exit_code_for

        code = exit_code_for(KeyboardInterrupt())
    sys.exit(code)
