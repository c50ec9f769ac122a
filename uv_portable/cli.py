"""The command line: parse options, call uv_portable.api, map errors to exit codes. No logic.

No `from __future__ import annotations` here: typer reads these annotations at run time, and
older typer releases (the ones Python 3.9 gets) do not resolve string annotations.
"""

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from uv_portable import __version__
from uv_portable.config import INVALIDATION_MODES, Options, check_config, load_config
from uv_portable.entry import say as _say
from uv_portable.entry import show_error
from uv_portable.errors import Interrupted, UsageError, UvPortableError

# The pipeline (ELF/Mach-O readers, archive writers, rich) is imported by the commands that
# use it, so that `--version`, `--help` and `config --check` start quickly.
if TYPE_CHECKING:
    from uv_portable import api
    from uv_portable.check import CheckReport
    from uv_portable.model import Plan

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

# Options shared by export and build. Optional[...] because typer needs it on Python 3.9.
Force = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NoVerify = Annotated[bool, typer.Option("--no-verify", help="Skip the check of the result.")]
Format = Annotated[
    Optional[str],
    typer.Option(
        "--format", metavar="FMT", help="dir, tar, tar.gz, tgz, tar.zst or zip (default: from OUT)."
    ),
]
Level = Annotated[
    Optional[int],
    typer.Option("--level", metavar="N", help="Compression level (gzip/zip 0-9, zstd 1-22)."),
]
Threads = Annotated[
    Optional[int],
    typer.Option("--threads", metavar="N", help="Compression threads (default: all cores)."),
]
Arcroot = Annotated[
    Optional[str],
    typer.Option("--arcroot", metavar="NAME", help="Put the archive's members under this folder."),
]
KeepTests = Annotated[
    Optional[bool],
    typer.Option("--keep-tests/--no-keep-tests", help="Keep the standard library's tests."),
]
KeepConfig = Annotated[
    Optional[bool],
    typer.Option(
        "--keep-config/--no-keep-config",
        help="Keep the static libpython in lib/pythonX.Y/config-*/ (for embedding).",
    ),
]
Exclude = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude", metavar="GLOB", help="Leave out output paths matching this glob (repeatable)."
    ),
]
TargetGlibc = Annotated[
    Optional[str],
    typer.Option(
        "--target-glibc",
        metavar="VERSION",
        help='Refuse files needing a newer glibc ("2.28", "manylinux2014").',
    ),
]
AllowMissing = Annotated[
    Optional[list[str]],
    typer.Option(
        "--allow-missing", metavar="LIB", help="A library the target host provides (repeatable)."
    ),
]
Bundle = Annotated[
    Optional[bool],
    typer.Option("--bundle/--no-bundle", help="Copy in shared libraries the target may lack."),
]
Compile = Annotated[
    Optional[bool],
    typer.Option(
        "--compile/--no-compile",
        help="Compile every .py to bytecode that stays valid in archives (default: on).",
    ),
]
InvalidationMode = Annotated[
    Optional[str],
    typer.Option(
        "--invalidation-mode",
        metavar="MODE",
        help="unchecked-hash (default) or checked-hash (for sources edited on the target).",
    ),
]
Sbom = Annotated[
    Optional[Path],
    typer.Option(
        "--sbom",
        metavar="PATH",
        help="Also write the CycloneDX SBOM here (it is always in the tree).",
    ),
]
Base = Annotated[
    Optional[Path],
    typer.Option(
        "--base", metavar="PATH", help="A Windows venv's base CPython folder, as seen from here."
    ),
]
Target = Annotated[
    Optional[str],
    typer.Option(
        "--target", metavar="NAME", help="Use [tool.uv-portable.targets.NAME] of the config."
    ),
]


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextlib.contextmanager
def _rich_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _progress() -> "Optional[api.ProgressFactory]":
    return _rich_progress if _interactive() else None


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


def _export_overrides(
    fmt: Optional[str],
    level: Optional[int],
    threads: Optional[int],
    arcroot: Optional[str],
    keep_tests: Optional[bool],
    keep_config: Optional[bool],
    exclude: Optional[list[str]],
    target_glibc: Optional[str],
    allow_missing: Optional[list[str]],
    bundle: Optional[bool],
    compile_: Optional[bool],
    invalidation_mode: Optional[str],
) -> dict[str, Any]:
    """The export options that `export` and `build` share, as Options field overrides."""
    if invalidation_mode is not None and invalidation_mode not in INVALIDATION_MODES:
        raise UsageError(
            f"unknown invalidation mode {invalidation_mode!r}",
            "use " + " or ".join(INVALIDATION_MODES),
        )
    return {
        "compile": compile_,
        "invalidation_mode": invalidation_mode,
        "format": fmt,
        "compression_level": level,
        "threads": threads,
        "arcroot": arcroot,
        "keep_tests": keep_tests,
        "keep_config": keep_config,
        "exclude": exclude,
        "target_glibc": target_glibc,
        "allow_missing": allow_missing,
        "bundle": bundle,
    }


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
    base: Base = None,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
) -> None:
    """Export SRC as a self-contained, relocatable Python environment at OUT."""
    cwd = Path.cwd()
    opts = _project_config(cwd, target).merged(
        **_export_overrides(
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
            _print_plan(plan)
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
        progress=_progress(),
        make_parent=from_config,
        compile=compile_options(opts),
        sbom_path=sbom,
        base=base_path,
    )
    _report(result, as_json)


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
    force: Force = False,
    as_json: AsJson = False,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
) -> None:
    """Build the portable environment of a uv project, as configured in [tool.uv-portable]."""
    project = Path(os.path.abspath(project))
    opts = load_config(project, target)
    _say(f"config: {'; '.join(opts.sources)}")
    opts = opts.merged(
        python=python,
        groups=group,
        extras=extra,
        **_export_overrides(
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
        progress=_progress(),
        sbom_path=sbom,
    )
    _report(result, as_json)


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
        _print_check(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_check(report: "CheckReport") -> None:
    print(f"checked: {report.path}")
    shown = list(report.findings)
    width = max((len(f.code) for f in shown), default=0)
    for f in shown:
        print(f"{f.severity:<8} {f.code:<{width}}  {f.path}: {f.message}")
        if f.hint:
            print(f"{'':<8} {'':<{width}}  hint: {f.hint}")
    run = report.run
    if run is not None:
        if not run.started:
            print(f"run:     FAILED ({run.isolation}): {run.message}")
        else:
            baseline = "the manifest's baseline" if report.manifest else "no manifest"
            print(
                f"run:     interpreter started ({run.isolation}); {len(run.imported)} modules "
                f"imported, {len(run.failed)} failed ({baseline})"
            )
    if not report.manifest:
        print("manifest: none (not made by uv-portable, or made before 0.1): static checks only")
    for requirement in report.host_requirements:
        print(f"needs:   {requirement}")
    print(f"glibc:   >= {report.glibc_floor or 'any'}")
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    verdict = "self-contained" if report.ok else "NOT self-contained"
    print(f"result:  {verdict} ({errors} error(s), {warnings} warning(s))")


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


def _report(result: "api.ExportResult", as_json: bool) -> None:
    if as_json:
        from uv_portable.model import finding_json

        summary: dict[str, Any] = {
            "output": str(result.out),
            "files": result.files,
            "bytes": result.bytes,
            "patched_binaries": result.patched,
            "seconds": round(result.seconds, 3),
            "notes": list(result.plan.notes),
            "findings": [finding_json(f) for f in result.findings],
            "verified_with": result.isolation or None,
            "host_requirements": list(result.host_requirements),
            "missing_libraries": [m.to_json() for m in result.plan.missing],
        }
        if result.archive is not None:
            summary["archive_bytes"] = result.archive.bytes_out
        if result.bytecode is not None:
            b = result.bytecode
            summary["bytecode"] = {
                "sources": b.sources,
                "compiled": b.compiled,
                "reused": b.converted + b.kept,
                "failed": [{"path": p, "error": e} for p, e in b.failed],
                "bytes_added": b.bytes_added,
                "seconds": round(b.seconds, 3),
            }
        floor = result.plan.glibc_floor
        summary["glibc_floor"] = str(floor) if floor else None
        summary["glibc_per_file"] = {d: str(v) for d, v in result.plan.glibc}
        summary["bundled"] = [{"soname": s, "from": p} for s, p in result.plan.bundled]
        print(json.dumps(summary, indent=2))
        return
    for f in result.findings:
        if f.severity == "warning":
            _say(f"warning: {f.path}: {f.message}")
    base = result.plan.source.base
    size = f"{result.bytes / 1e6:.1f} MB"
    if result.archive is not None:
        size += f" -> {result.archive.bytes_out / 1e6:.1f} MB"
    _say(
        f"exported {result.label or result.plan.source.path} (CPython {base.version_str}) "
        f"to {result.out}: "
        f"{result.files} files, {size}, {result.patched} binaries patched, "
        f"{result.seconds:.1f}s"
    )
    if result.isolation:
        how = "in place: no sandbox here" if result.isolation == "none" else result.isolation
        _say(f"verified: the export imports what the source imports ({how})")
    if result.host_requirements:
        _say(f"needs from the target host: {'; '.join(result.host_requirements)}")
    if base.platform == "linux":
        _say(f"runs on Linux with glibc >= {result.plan.glibc_floor or 'any'}")
    elif base.platform == "windows":
        _say("runs on 64-bit Windows 10 or newer (x64)")
    else:
        _say("runs on macOS")


def _print_plan(plan: "Plan") -> None:
    from uv_portable.model import (
        CopyFile,
        MakeDir,
        MakeSymlink,
        SetMachO,
        SetSearchPath,
        WriteFile,
    )

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
        elif isinstance(action, SetMachO):
            for before, after in (*action.names, *action.rpaths):
                print(f"patch:   {action.dest} {before} -> {after}")
    for note in plan.notes:
        print(f"note:    {note}")
    print(f"glibc:   >= {plan.glibc_floor or 'any'}")
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
            import traceback

            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        where = f"the full log is in {log}"
    except OSError:
        where = "no log could be written"
    _say(f"unexpected error: {type(exc).__name__}: {exc}")
    _say(f"  this is a bug in uv-portable; {where}; please report it")
    return 3


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
    except UvPortableError as exc:
        return show_error(exc)
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


__all__ = ["app", "main", "run"]
