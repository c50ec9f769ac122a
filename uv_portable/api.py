"""The Python API behind the CLI: plan, export, verify."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uv_portable.archive import (
    ArchiveOptions,
    ArchiveSummary,
    output_format,
    source_date_epoch,
    write_archive,
)
from uv_portable.binaries.libs import parse_glibc_target
from uv_portable.build import create_project_venv, temporary_venv_dir
from uv_portable.bytecode import CompileOptions, CompileSummary, compile_export, compile_options
from uv_portable.config import Options
from uv_portable.errors import RefusedError, VerifyError
from uv_portable.materialize import materialize
from uv_portable.model import CopyFile, Finding, Plan, WriteFile
from uv_portable.output import check_output_location, publish, staging_dir, terminate_as_interrupt
from uv_portable.patch import patch_binaries
from uv_portable.plan import ExportOptions, make_plan
from uv_portable.source import load_source
from uv_portable.verify import smoke_run, verify_tree

Say = Callable[[str], None]
# Given a label and a byte total, a context manager yielding an "advance by n bytes" callback.
ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]


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
    bytecode: CompileSummary | None = None  # None: not compiled (--no-compile, or no X.Y)


def plan_export(src: Path, options: ExportOptions | None = None) -> Plan:
    """Read the source venv and decide everything; writes nothing."""
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
    compile: CompileOptions | None = CompileOptions(),  # noqa: B008 - frozen, never mutated
) -> ExportResult:
    """Export the venv at src as a self-contained folder (or, with archive, an archive) at out.

    ``make_parent`` creates out's folder (for outputs named by the config, like dist/);
    ``compile=None`` ships no new bytecode.
    """
    started = time.monotonic()
    emit = say or (lambda message: None)
    src, out = Path(os.path.abspath(src)), Path(os.path.abspath(out))
    fmt = archive.format if archive is not None else "dir"
    source = load_source(src)
    check_output_location(src, out, force=force, fmt=fmt, make_parent=make_parent)
    plan = make_plan(source, options)
    refuse_if_needed(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    for note in plan.notes:
        emit(note)
    total = sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
    summary: ArchiveSummary | None = None
    bytecode: CompileSummary | None = None
    with terminate_as_interrupt(), staging_dir(out) as stage:
        root = stage / "tree"
        root.mkdir()
        with _progress(progress, "copying", total) as advance:
            materialize(plan, root, advance, link=archive is not None)
        patched, signed = patch_binaries(plan, root)
        if signed:
            emit(
                f"re-signed {len(signed)} Mach-O slice(s) ad hoc by re-hashing their pages in place"
            )
        if compile is not None:  # bytecode (issue 13): after patching, before verifying
            bytecode = compile_export(root, source.base, compile, emit, progress)
        findings = _verify(root, source.base.platform, plan) if verify else ()
        if archive is None:
            publish(root, out)
        else:
            with _progress(progress, f"writing {out.name}", total) as advance:
                summary = write_archive(root, out, archive, advance)
    return ExportResult(
        out=out,
        plan=plan,
        files=plan.count(CopyFile) + plan.count(WriteFile),
        bytes=total,
        patched=patched,
        seconds=time.monotonic() - started,
        findings=plan.findings + findings,
        archive=summary,
        bytecode=bytecode,
    )


def _verify(root: Path, platform: str, plan: Plan) -> tuple[Finding, ...]:
    findings = verify_tree(root, host_libraries=not plan.bundling).findings
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise VerifyError(
            f"the export would not be portable: {errors[0].path}: {errors[0].message}",
            errors[0].hint or "report this to uv-portable with the venv's details",
        )
    if platform == _host_platform():
        problem = smoke_run(root)
        if problem is not None:
            raise VerifyError(
                f"the exported interpreter does not work: {problem}",
                "run with --no-verify to keep the output for debugging",
            )
    return findings


@contextlib.contextmanager
def _progress(
    factory: ProgressFactory | None, label: str, total: int
) -> Iterator[Callable[[int], None] | None]:
    if factory is None:
        yield None
        return
    with factory(label, total) as advance:
        yield advance


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
    target = parse_glibc_target(opts.target_glibc) if opts.target_glibc else None
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
        return export(
            venv,
            out,
            export_options(opts),
            archive=archive_options(fmt, opts),
            force=force,
            verify=verify,
            say=say,
            progress=progress,
            make_parent=output is None,  # like `uv build`, which creates dist/
            compile=compile_options(opts),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def default_output(project: Path) -> str:
    """Where build writes when the config names no output."""
    return f"dist/{project.name}-portable"


def _host_platform() -> str:
    return "macos" if sys.platform == "darwin" else "linux"


__all__ = ["ArchiveOptions", "ExportOptions", "ExportResult", "export", "plan_export"]
