"""The command line: parse options, call uv_portable.api, map errors to exit codes. No logic.

No `from __future__ import annotations` here: typer reads these annotations at run time, and
older typer releases (the ones Python 3.9 gets) do not resolve string annotations.
"""

import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Optional

import typer

from uv_portable import __version__
from uv_portable.cli_options import (
    AllowMissing,
    Arcroot,
    AsJson,
    Base,
    Bundle,
    CacheDir,
    Compile,
    CompileTests,
    Exclude,
    Force,
    Format,
    InvalidationMode,
    KeepConfig,
    KeepTests,
    Level,
    NoCache,
    NoVerify,
    Sbom,
    Target,
    TargetGlibc,
    Threads,
)
from uv_portable.config import Options, check_config, export_overrides, load_config
from uv_portable.errors import Interrupted, UsageError
from uv_portable.exits import exit_code_for
from uv_portable.exits import say as _say
from uv_portable.render import print_check, print_plan, progress_factory, report_export

# The pipeline (ELF/Mach-O readers, archive writers, rich) is imported by the commands that
# use it, so that `--version`, `--help` and `config --check` start quickly.

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
    rich_markup_mode=None,  # plain help: rendering it with rich costs ~0.3 s of imports
)


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


def _project_config(project: Path, target: Optional[str]) -> Options:
    if (project / "pyproject.toml").is_file():
        return load_config(project, target)
    if target is not None:
        raise UsageError(
            f"--target {target}: no pyproject.toml in {project}", "run in the project folder"
        )
    return Options()


@app.command()
def export(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The venv to export (e.g. .venv).")],
    out: Annotated[
        Optional[Path],
        typer.Argument(
            metavar="OUT", help="Output folder or archive (default: `output` from the config)."
        ),
    ] = None,
    force: Force = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    as_json: AsJson = False,
    fmt: Format = None,
    level: Level = None,
    threads: Threads = None,
    arcroot: Arcroot = None,
    keep_tests: KeepTests = None,
    keep_config: KeepConfig = None,
    exclude: Exclude = None,
    target: Target = None,
    target_glibc: TargetGlibc = None,
    allow_missing: AllowMissing = None,
    bundle: Bundle = None,
    compile_: Compile = None,
    invalidation_mode: InvalidationMode = None,
    compile_tests: CompileTests = None,
    base: Base = None,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Export SRC as a self-contained, relocatable Python environment at OUT."""
    cwd = Path.cwd()
    opts = _project_config(cwd, target).merged(
        **export_overrides(
            fmt,
            level,
            threads,
            arcroot,
            keep_tests,
            keep_config,
            exclude,
            target_glibc,
            allow_missing,
            bundle,
            compile_,
            invalidation_mode,
            compile_tests,
        ),
        base=str(base) if base is not None else None,
    )
    base_path = Path(opts.base) if opts.base else None
    from_config = out is None
    if out is None:
        if opts.output is None:
            raise UsageError(
                "no output given",
                "pass OUT, or set `output` in [tool.uv-portable] of pyproject.toml",
            )
        out = cwd / opts.output
    from uv_portable import api
    from uv_portable.archive import output_format
    from uv_portable.bytecode import compile_options

    if dry_run:
        plan = api.plan_export(src, api.export_options(opts), base=base_path)
        if as_json:
            print(json.dumps(plan.to_json(), indent=2))
        else:
            print_plan(plan)
        api.refuse_if_needed(plan)
        return
    archive = api.archive_options(output_format(out, opts.format), opts)
    result = api.export(
        src,
        out,
        api.export_options(opts),
        archive=archive,
        force=force,
        verify=not no_verify,
        say=_say,
        progress=progress_factory(),
        make_parent=from_config,
        compile=compile_options(opts),
        sbom_path=sbom,
        base=base_path,
        cache=None if no_cache else _cache_root(cache_dir),
    )
    report_export(result, as_json)


@app.command()
def build(
    project: Annotated[
        Path,
        typer.Argument(
            metavar="PROJECT", help="The uv project folder (default: the current folder)."
        ),
    ] = Path("."),
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Output folder or archive (overrides the config).",
        ),
    ] = None,
    target: Target = None,
    python: Annotated[
        Optional[str],
        typer.Option("--python", metavar="VERSION", help="Python version request passed to uv."),
    ] = None,
    group: Annotated[
        Optional[list[str]],
        typer.Option(
            "--group", metavar="GROUP", help="Include this dependency group (repeatable)."
        ),
    ] = None,
    extra: Annotated[
        Optional[list[str]],
        typer.Option("--extra", metavar="EXTRA", help="Include this extra (repeatable)."),
    ] = None,
    fmt: Format = None,
    level: Level = None,
    threads: Threads = None,
    arcroot: Arcroot = None,
    keep_tests: KeepTests = None,
    keep_config: KeepConfig = None,
    exclude: Exclude = None,
    target_glibc: TargetGlibc = None,
    allow_missing: AllowMissing = None,
    bundle: Bundle = None,
    compile_: Compile = None,
    invalidation_mode: InvalidationMode = None,
    compile_tests: CompileTests = None,
    force: Force = False,
    as_json: AsJson = False,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Build the portable environment of a uv project, as configured in [tool.uv-portable]."""
    project = Path(os.path.abspath(project))
    opts = load_config(project, target)
    _say(f"config: {'; '.join(opts.sources)}")
    opts = opts.merged(
        python=python,
        groups=group,
        extras=extra,
        **export_overrides(
            fmt,
            level,
            threads,
            arcroot,
            keep_tests,
            keep_config,
            exclude,
            target_glibc,
            allow_missing,
            bundle,
            compile_,
            invalidation_mode,
            compile_tests,
        ),
    )
    from uv_portable import api

    result = api.build(
        project,
        opts,
        output=output,
        force=force,
        verify=not no_verify,
        say=_say,
        progress=progress_factory(),
        sbom_path=sbom,
        cache=None if no_cache else _cache_root(cache_dir),
    )
    report_export(result, as_json)


@app.command("check")
def check_command(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="An exported folder, a venv, or an archive.")
    ],
    run_it: Annotated[
        bool, typer.Option("--run", help="Also run it in a sandbox that hides the host's Python.")
    ] = False,
    target_glibc: TargetGlibc = None,
    imports: Annotated[
        Optional[list[str]],
        typer.Option(
            "--import", metavar="MODULE", help="Also import this module in the run (repeatable)."
        ),
    ] = None,
    skip_imports: Annotated[
        Optional[list[str]],
        typer.Option(
            "--skip-import",
            metavar="MODULE",
            help="Do not import this module in the run (repeatable).",
        ),
    ] = None,
    sandbox: Annotated[
        str, typer.Option("--sandbox", metavar="KIND", help="auto, bwrap or unshare (root only).")
    ] = "auto",
    max_extract_size: Annotated[
        Optional[int],
        typer.Option(
            "--max-extract-size",
            metavar="BYTES",
            help="Refuse archives that expand past this (bytes; 32 GiB).",
        ),
    ] = None,
    max_members: Annotated[
        Optional[int],
        typer.Option(
            "--max-members", metavar="N", help="Refuse archives with more members (1,000,000)."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Check that PATH is self-contained: exit 0 when it is, 1 when it is not."""
    if sandbox not in ("auto", "bwrap", "unshare"):
        raise UsageError(f"unknown sandbox {sandbox!r}", "use auto, bwrap or unshare")
    from uv_portable import api

    defaults = api.Caps()
    report = api.check(
        path,
        run=run_it,
        target_glibc=target_glibc,
        imports=tuple(imports or ()),
        skip_imports=tuple(skip_imports or ()),
        sandbox="bwrap" if sandbox == "bwrap" else "unshare" if sandbox == "unshare" else "auto",
        caps=api.Caps(
            defaults.bytes if max_extract_size is None else max_extract_size,
            defaults.members if max_members is None else max_members,
        ),
    )
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_check(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("config")
def config_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            metavar="PATHS",
            help="Project folders or pyproject.toml files (default: current folder).",
        ),
    ] = None,
    target: Target = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only validate (every target); print nothing on success."),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show the merged [tool.uv-portable] configuration, or validate it (--check)."""
    for path in paths or [Path(".")]:
        if check:
            check_config(path, target)
            continue
        project = path.parent if path.name == "pyproject.toml" else path
        opts = load_config(project, target)
        if as_json:
            print(json.dumps({**opts.to_json(), "sources": list(opts.sources)}, indent=2))
        else:
            print(f"# {'; '.join(opts.sources)}")
            for key, value in opts.to_json().items():
                print(f"{key} = {json.dumps(value)}")


# --- the cache (issue 20): `uv-portable cache dir|size|clean`, as `uv cache` ---
cache_app = typer.Typer(
    help="Show or clean uv-portable's cache (pycs, import baselines).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(cache_app, name="cache")


def _cache_root(option: Optional[Path]) -> Path:
    from uv_portable.pyc_cache import cache_root

    return cache_root(option)


@cache_app.command("dir")
def cache_dir_command(cache_dir: CacheDir = None) -> None:
    """Print the cache folder."""
    print(_cache_root(cache_dir))


@cache_app.command("size")
def cache_size_command(
    cache_dir: CacheDir = None,
    human: Annotated[bool, typer.Option("--human", "-H", help="In MB, with a file count.")] = False,
) -> None:
    """Print the cache's size in bytes."""
    from uv_portable.pyc_cache import usage

    files, total = usage(_cache_root(cache_dir))
    print(f"{total / 1e6:.1f} MB in {files} files" if human else total)


@cache_app.command("clean")
def cache_clean_command(cache_dir: CacheDir = None) -> None:
    """Remove every entry of the cache."""
    from uv_portable.pyc_cache import clean

    root = _cache_root(cache_dir)
    files, total = clean(root)
    _say(f"removed {files} files ({total / 1e6:.1f} MB) from {root}")


# --- end cache ---


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise Interrupted("Ctrl-C")


def run(argv: Optional[list[str]] = None) -> int:
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
    except typer.Exit as exc:
        return int(exc.exit_code)
    except _ClickException as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        return exit_code_for(KeyboardInterrupt())
    except (Exception, KeyboardInterrupt, Interrupted) as exc:
        return exit_code_for(exc)
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


__all__ = ["app", "main", "run"]
