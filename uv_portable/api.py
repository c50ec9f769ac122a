"""The Python API behind the CLI: plan, export, verify."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv_portable.archive import (
    ArchiveOptions,
    ArchiveSummary,
    output_format,
    source_date_epoch,
    write_archive,
)
from uv_portable.baseline_cache import fingerprint
from uv_portable.build import create_project_venv, temporary_venv_dir
from uv_portable.bytecode import (
    CompileOptions,
    CompileSummary,
    compile_copies,
    compile_export,
    compile_options,
)
from uv_portable.check import Caps, CheckReport, check
from uv_portable.config import Options
from uv_portable.distributions import importable_modules
from uv_portable.errors import RefusedError, io_error
from uv_portable.glibc import parse_target_glibc
from uv_portable.importcheck import STDLIB_MODULES
from uv_portable.manifest import (
    MANIFEST_PATH,
    SBOM_PATH,
    ExportFacts,
    build_manifest,
    dumps,
    write_document,
)
from uv_portable.materialize import materialize
from uv_portable.model import CopyFile, Finding, Plan, WriteFile
from uv_portable.output import (
    check_output_location,
    publish,
    remove_stale,
    staging_dir,
    terminate_as_interrupt,
)
from uv_portable.patch import patch_binaries
from uv_portable.plan import ExportOptions, make_plan
from uv_portable.progress import ProgressFactory, progress_bar
from uv_portable.pyc_cache import open_cache
from uv_portable.sbom import make_sbom
from uv_portable.source import load_source
from uv_portable.verification import Verified, source_imports, verify_export

Say = Callable[[str], None]
# Given a label and a byte total, a context manager yielding an "advance by n bytes" callback.


@dataclass(frozen=True)
class ExportResult:
    """What an export produced."""

    out: Path
    plan: Plan
    files: int
    bytes: int
    patched: int
    seconds: float
    findings: tuple[Finding, ...]
    archive: ArchiveSummary | None = None
    label: str = ""  # what was exported, for messages: the venv, or the project of `build`
    isolation: str = ""  # how the export's imports were run ("bwrap", ...); "" if not run
    host_requirements: tuple[str, ...] = ()  # what the target host must provide
    bytecode: CompileSummary | None = None  # None: not compiled (--no-compile, or no X.Y)


def plan_export(
    src: Path, options: ExportOptions | None = None, *, base: Path | None = None
) -> Plan:
    """Read the source venv and decide everything; writes nothing."""
    # --- Windows venvs: uv_portable.windows (base = the Windows install, seen from here) ---
    from uv_portable.windows.detect import is_windows_venv

    if is_windows_venv(Path(os.path.abspath(src))):
        from uv_portable.windows.export import plan_windows_export

        return plan_windows_export(src, options, base)
    # --- end Windows ---
    return make_plan(load_source(src), options)


def refuse_if_needed(plan: Plan) -> None:
    """Raise RefusedError naming every blocking finding of a plan."""
    errors = plan.errors
    if not errors:
        return
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    editable = [f for f in errors if f.code == "editable"]
    if editable:
        names = ", ".join(f.subject for f in editable)
        raise RefusedError(
            f"editable installs cannot be exported: {names}{more}",
            "reinstall them non-editable: `uv sync --no-editable`",
        )
    glibc = [f for f in errors if f.code == "glibc-too-new"]
    if glibc:
        worst = ", ".join(f"{f.path} ({f.subject})" for f in glibc[:3])
        raise RefusedError(
            f"{len(glibc)} file(s) need a newer glibc than {plan.target_glibc}: {worst}"
            + (", ..." if len(glibc) > 3 else ""),
            glibc[0].hint,
        )
    raise RefusedError(f"{first.path}: {first.message}{more}", first.hint)


def export(
    src: Path,
    out: Path,
    options: ExportOptions | None = None,
    *,
    archive: ArchiveOptions | None = None,
    force: bool = False,
    verify: bool = True,
    say: Say | None = None,
    progress: ProgressFactory | None = None,
    make_parent: bool = False,
    sbom_path: Path | None = None,
    base: Path | None = None,
    compile: CompileOptions | None = CompileOptions(),  # noqa: B008 - frozen, never mutated
    cache: Path | None = None,
) -> ExportResult:
    """Export the venv at src as a self-contained folder (or, with archive, an archive) at out.

    ``make_parent`` creates out's folder (for outputs named by the config, like dist/);
    ``sbom_path`` writes the SBOM there too (it is always in the tree); ``base`` is a Windows
    venv's base install as seen from this machine. ``compile=None`` ships no new
    bytecode. ``cache``: the cache folder for pycs and the source's import baseline (None:
    no cache).
    """
    # --- Windows venvs: uv_portable.windows ---
    from uv_portable.windows.detect import is_windows_venv

    if is_windows_venv(Path(os.path.abspath(src))):
        from uv_portable.windows.export import export_windows

        return export_windows(
            src,
            out,
            options,
            base=base,
            archive=archive,
            force=force,
            verify=verify,
            say=say,
            progress=progress,
            make_parent=make_parent,
        )
    # --- end Windows ---
    started = time.monotonic()
    emit = say or (lambda message: None)
    src, out = Path(os.path.abspath(src)), Path(os.path.abspath(out))
    fmt = archive.format if archive is not None else "dir"
    source = load_source(src)
    check_output_location(src, out, force=force, fmt=fmt, make_parent=make_parent)
    plan = make_plan(source, options)
    refuse_if_needed(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    stale = remove_stale(out)
    if stale:
        emit(f"removed {stale} leftover(s) of an earlier export that was killed")
    for note in plan.notes:
        emit(note)
    total = sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
    summary: ArchiveSummary | None = None
    bytecode: CompileSummary | None = None
    runs_here = verify and source.base.on_host
    modules = (*STDLIB_MODULES, *importable_modules(plan.distributions)) if runs_here else ()
    # --- the cache (issue 20) ---
    store = open_cache(cache, emit) if cache is not None else None
    if compile is not None:
        compile = dataclasses.replace(compile, cache=store)
    key = fingerprint(source, plan, modules) if runs_here and store is not None else ""
    # --- end cache ---
    with (
        terminate_as_interrupt(),
        _io_boundary(out),
        staging_dir(out) as stage,
        ThreadPoolExecutor(max_workers=2) as background,
    ):
        root = stage / "tree"
        root.mkdir()
        pycache = stage / "source-pycache"  # removed with the staging folder
        # While the tree is copied: sources that come without pycs are compiled, then the
        # source's imports (the baseline) run, using those pycs.
        early = (
            background.submit(compile_copies, root, plan, source.base, compile, pycache)
            if compile is not None
            else None
        )
        source_run = (
            background.submit(
                source_imports,
                early,
                source.path / "bin" / "python",
                modules,
                pycache,
                store,
                key,
            )
            if runs_here
            else None
        )
        with progress_bar(progress, "copying", total) as advance:
            materialize(plan, root, advance, link=archive is not None)
        patched, signed = patch_binaries(plan, root)
        if signed:
            emit(
                f"re-signed {len(signed)} Mach-O slice(s) ad hoc by re-hashing their pages in place"
            )
        if compile is not None:  # bytecode (issue 13): after patching, before verifying
            done = early.result() if early is not None else None
            bytecode = compile_export(root, source.base, compile, emit, progress, done)
        verified = (
            verify_export(root, plan, modules, source_run)
            if verify
            else Verified(requirements=plan.host_data)
        )
        if source_run is not None and source_run.result().reused:
            emit("imports: the source venv's baseline reused from the cache (source unchanged)")
        if verify and source_run is None:
            emit("imports not verified: the export is for another platform than this host")
        facts = ExportFacts(
            options=options_json(options or ExportOptions(), archive, compile),
            host_requirements=verified.requirements,
            imports=verified.imports,
        )
        manifest = build_manifest(root, plan, facts)
        write_document(root, MANIFEST_PATH, manifest)
        sbom = make_sbom(manifest)
        write_document(root, SBOM_PATH, sbom)
        if sbom_path is not None:
            _write_outside(sbom_path, dumps(sbom))
        if archive is None:
            publish(root, out, force=force)
        else:
            with progress_bar(progress, f"writing {out.name}", total) as advance:
                summary = write_archive(root, out, archive, advance, replace=force)
    findings = verified.findings
    return ExportResult(
        out=out,
        plan=plan,
        label=str(src),
        files=plan.count(CopyFile) + plan.count(WriteFile),
        bytes=total,
        patched=patched,
        seconds=time.monotonic() - started,
        findings=plan.findings + findings,
        archive=summary,
        isolation=verified.isolation,
        host_requirements=verified.requirements,
        bytecode=bytecode,
    )


def options_json(
    options: ExportOptions,
    archive: ArchiveOptions | None,
    compile: CompileOptions | None = None,
) -> dict[str, Any]:
    """The options that shaped the tree, for the manifest (never the output's path)."""
    return {
        "bytecode": compile.invalidation if compile is not None else None,
        "bytecode_of_package_tests": compile.tests if compile is not None else None,
        "keep_tests": options.keep_tests,
        "keep_config": options.keep_config,
        "exclude": list(options.exclude),
        "bundle": options.bundle,
        "allow_missing": list(options.allow_missing),
        "target_glibc": str(options.target_glibc) if options.target_glibc else None,
        "arcroot": archive.arcroot if archive is not None else None,
    }


def _write_outside(path: Path, data: bytes) -> None:
    """Write a file beside the export (the --sbom copy) atomically."""
    path = Path(os.path.abspath(path))
    tmp = path.parent / f".{path.name}.uv-portable-tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise io_error(exc, path, writing=True) from exc


@contextlib.contextmanager
def _io_boundary(out: Path) -> Iterator[None]:
    """Disk and permission errors while staging, patching and publishing: one line naming
    the path, exit 6, never a traceback."""
    try:
        yield
    except OSError as exc:
        raise io_error(exc, exc.filename or out, writing=True) from exc


def archive_options(fmt: str, opts: Options) -> ArchiveOptions | None:
    """ArchiveOptions for an archive format (None for a folder), from merged options."""
    if fmt == "dir":
        return None
    return ArchiveOptions(
        format=fmt,
        level=opts.compression_level,
        threads=opts.threads,
        arcroot=opts.arcroot,
        mtime=source_date_epoch(),
    )


def export_options(opts: Options) -> ExportOptions:
    """The planner's options from merged options."""
    target = parse_target_glibc(opts.target_glibc) if opts.target_glibc else None
    return ExportOptions(
        keep_tests=opts.keep_tests,
        keep_config=opts.keep_config,
        exclude=opts.exclude,
        bundle=opts.bundle,
        allow_missing=opts.allow_missing,
        target_glibc=target,
    )


def build(
    project: Path,
    opts: Options,
    *,
    output: Path | None = None,
    force: bool = False,
    verify: bool = True,
    say: Say | None = None,
    progress: ProgressFactory | None = None,
    sbom_path: Path | None = None,
    cache: Path | None = None,
) -> ExportResult:
    """Create a fresh relocatable venv of a uv project and export it; the project's .venv is
    never touched."""
    project = Path(os.path.abspath(project))
    out = output if output is not None else project / (opts.output or default_output(project))
    out = Path(os.path.abspath(out))
    fmt = output_format(out, opts.format)
    work = temporary_venv_dir()
    try:
        venv = work / "venv"
        check_output_location(venv, out, force=force, fmt=fmt, make_parent=output is None)
        (say or (lambda m: None))(f"creating a fresh environment of {project} with uv")
        create_project_venv(
            project,
            venv,
            python=opts.python,
            groups=opts.groups,
            extras=opts.extras,
            no_dev=opts.no_dev,
        )
        result = export(
            venv,
            out,
            export_options(opts),
            archive=archive_options(fmt, opts),
            force=force,
            verify=verify,
            say=say,
            progress=progress,
            make_parent=output is None,  # like `uv build`, which creates dist/
            sbom_path=sbom_path,
            compile=compile_options(opts),
            cache=cache,
        )
        return dataclasses.replace(result, label=f"the project {project}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def default_output(project: Path) -> str:
    """Where build writes when the config names no output."""
    return f"dist/{project.name}-portable"


__all__ = [
    "ArchiveOptions",
    "Caps",
    "CheckReport",
    "ExportOptions",
    "ExportResult",
    "build",
    "check",
    "export",
    "plan_export",
]
