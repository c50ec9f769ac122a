"""The Python API behind the CLI: plan, export, build, check.

One export pipeline for every platform: read the source -> plan -> materialize -> patch ->
compile -> prove -> publish. What differs by platform is behind ``Platform``; where and how the
result is written is behind ``Destination``; every option comes in one ``Settings``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv_portable.errors import RefusedError, io_error
from uv_portable.interrupts import ThreadPool, deferred, take_received
from uv_portable.model import CopyFile, Finding, Plan, WriteFile
from uv_portable.platforms import Platform, load_platform
from uv_portable.progress import ProgressFactory, progress_bar
from uv_portable.prove.baseline_cache import fingerprint
from uv_portable.prove.check import check
from uv_portable.prove.extract import Caps
from uv_portable.prove.imports import modules_to_probe
from uv_portable.prove.manifest import (
    SBOM_PATH,
    ExportFacts,
    build_manifest,
    dumps,
    write_document,
)
from uv_portable.prove.report import CheckReport
from uv_portable.prove.sbom import make_sbom
from uv_portable.prove.verification import SourceBaseline, Verified, source_imports
from uv_portable.publish.archive import ArchiveSummary
from uv_portable.publish.destination import Destination
from uv_portable.publish.oci import check_entrypoint
from uv_portable.publish.output import MANIFEST_PATH, staging_dir
from uv_portable.settings import CompileOptions, PlanOptions, Settings
from uv_portable.source.project import (
    check_project,
    create_project_venv,
    find_project,
    temporary_venv_dir,
)
from uv_portable.source.venv import base_kind
from uv_portable.write.bytecode import CompileSummary, compile_copies, compile_export
from uv_portable.write.materialize import materialize
from uv_portable.write.pyc_cache import Cache, open_cache

Say = Callable[[str], None]


def _quiet(message: str) -> None:
    """A `say` that says nothing."""


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
    format: str = "dir"
    isolation_note: str = ""  # how the verification was isolated ("without isolation: ...")


@dataclass(frozen=True)
class DryRun:
    """What an export would do: its plan and its validated output."""

    plan: Plan
    destination: Destination


def _base(settings: Settings) -> Path | None:
    return Path(settings.base) if settings.base else None


def plan_export(
    src: Path, out: Path, settings: Settings | None = None, *, force: bool = False
) -> DryRun:
    """Read the source, check the output as a real export would, and decide everything;
    writes nothing. Refusals are raised after the plan is made (so it can be shown)."""
    settings = settings or Settings()
    destination = Destination.of(Path(os.path.abspath(src)), out, settings, force=force)
    platform = load_platform(src, _base(settings))
    return DryRun(platform.plan(settings.plan), destination)


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
        raise RefusedError(f"editable installs cannot be exported: {names}{more}", first.hint)
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
    settings: Settings | None = None,
    *,
    force: bool = False,
    verify: bool = True,
    say: Say | None = None,
    progress: ProgressFactory | None = None,
    sbom_path: Path | None = None,
    cache: Path | None = None,
) -> ExportResult:
    """Export the venv at src as a self-contained folder or archive at out (its format from
    its name, or ``settings.format``). ``sbom_path`` writes a copy of the SBOM there too;
    ``cache`` is the cache folder for pycs and the source's import baseline (None: none)."""
    started = time.monotonic()
    emit = say or _quiet
    settings = settings or Settings()
    destination = Destination.of(Path(os.path.abspath(src)), out, settings, force=force)
    platform = load_platform(src, _base(settings))
    plan = platform.plan(settings.plan)
    refuse_if_needed(plan)
    check_entrypoint(plan, destination.archive)  # a typo is found before the copy, not after
    stale = destination.prepare()
    if stale:
        emit(f"removed {stale} leftover(s) of earlier exports that were killed")
    for note in (*destination.warnings, *platform.format_notes(destination.format), *plan.notes):
        emit(note)
    store = open_cache(cache, emit) if cache is not None else None
    job = _Job(platform, plan, destination, settings, verify, emit, progress, store)
    with _io_boundary(destination.path):
        result = job.run(sbom_path)
    if take_received() is not None:
        emit("an interrupt came after the output was complete: the export is kept")
    return dataclasses.replace(result, seconds=time.monotonic() - started)


@dataclass(frozen=True)
class _Job:
    """One export's stages over a staging folder."""

    platform: Platform
    plan: Plan
    destination: Destination
    settings: Settings
    verify: bool
    say: Say
    progress: ProgressFactory | None
    cache: Cache | None = None

    @property
    def bytecode(self) -> CompileOptions | None:
        """How to compile, with the cache."""
        options = self.settings.bytecode
        return dataclasses.replace(options, cache=self.cache) if options is not None else None

    def run(self, sbom_path: Path | None) -> ExportResult:
        """Materialize, patch, compile, prove, document and publish."""
        plan, base = self.plan, self.platform.source.base
        total = sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
        runs_here = self.verify and base.on_host
        modules = modules_to_probe(plan.distributions) if runs_here else ()
        with (
            contextlib.ExitStack() as finished,
            staging_dir(self.destination.path) as stage,
            ThreadPool(max_workers=2) as background,
        ):
            root = stage / "tree"
            root.mkdir()
            early, source_run = self._start(background, root, stage, modules)
            with progress_bar(self.progress, "copying", total) as advance:
                materialize(plan, root, advance, link=self.destination.archive is not None)
            patched, signed = self.platform.patch(plan, root)
            if signed:
                self.say(
                    f"re-signed {len(signed)} Mach-O slice(s) ad hoc by re-hashing their pages "
                    "in place"
                )
            bytecode = self._compile(root, early)
            verified = self._prove(root, modules, source_run)
            self._document(root, verified, bytecode, sbom_path)
            finished.enter_context(deferred())  # from here on the export has succeeded
            summary = self.destination.publish(root, self.progress, total)
        return ExportResult(
            out=self.destination.path,
            plan=plan,
            label=str(self.platform.source.path),
            files=plan.count(CopyFile) + plan.count(WriteFile),
            bytes=total,
            patched=patched,
            seconds=0.0,
            findings=plan.findings + verified.findings,
            archive=summary,
            isolation=verified.isolation,
            isolation_note=verified.isolation_note,
            host_requirements=verified.requirements,
            bytecode=bytecode,
            format=self.destination.format,
        )

    def _start(
        self, pool: ThreadPoolExecutor, root: Path, stage: Path, modules: tuple[str, ...]
    ) -> tuple[Future[CompileSummary | None] | None, Future[SourceBaseline] | None]:
        """While the tree is copied: compile the sources that come without pycs, then run the
        source's imports (the baseline) with those pycs."""
        options, base = self.bytecode, self.platform.source.base
        pycache = stage / "source-pycache"  # removed with the staging folder
        early = (
            pool.submit(compile_copies, root, self.plan, base, options, pycache)
            if options is not None
            else None
        )
        python = self.platform.source.path / "bin" / "python"
        key = fingerprint(self.platform.source, self.plan, modules) if self.cache else ""
        source_run = (
            pool.submit(source_imports, early, python, modules, pycache, self.cache, key)
            if modules
            else None
        )
        return early, source_run

    def _compile(
        self, root: Path, early: Future[CompileSummary | None] | None
    ) -> CompileSummary | None:
        """Bytecode for every .py, after patching and before proving."""
        options = self.bytecode
        if options is None:
            return None
        done = early.result() if early is not None else None
        base = self.platform.source.base
        return compile_export(root, base, options, self.say, self.progress, done)

    def _prove(
        self, root: Path, modules: tuple[str, ...], source_run: Future[SourceBaseline] | None
    ) -> Verified:
        if not self.verify:
            return Verified(requirements=self.plan.host_data)
        if source_run is None:
            self.say("imports not verified: the export is for another platform than this host")
        elif source_run.result().reused:
            self.say("imports: the source venv's baseline reused from the cache (source unchanged)")
        settings = self.settings
        return self.platform.verify(
            root, self.plan, settings.plan, modules, source_run, settings.sandbox
        )

    def _document(
        self,
        root: Path,
        verified: Verified,
        bytecode: CompileSummary | None,
        sbom_path: Path | None,
    ) -> None:
        """The manifest and the SBOM in the tree (and the SBOM's copy at sbom_path)."""
        facts = ExportFacts(
            options=options_json(self.settings.plan, self.destination, bytecode, self.settings),
            host_requirements=verified.requirements,
            imports=verified.imports,
        )
        manifest = build_manifest(root, self.plan, facts)
        write_document(root, MANIFEST_PATH, manifest)
        sbom = make_sbom(manifest)
        write_document(root, SBOM_PATH, sbom)
        if sbom_path is not None:
            _write_outside(sbom_path, dumps(sbom))


def options_json(
    options: PlanOptions,
    destination: Destination,
    bytecode: CompileSummary | None,
    settings: Settings,
) -> dict[str, Any]:
    """The options that shaped the tree, for the manifest (never the output's path). The
    bytecode mode is recorded only when bytecode was compiled."""
    archive = destination.archive
    return {
        "bytecode": settings.invalidation_mode if bytecode is not None else None,
        "bytecode_of_package_tests": settings.compile_tests if bytecode is not None else None,
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


def build(
    project: Path,
    settings: Settings,
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
    emit = say or _quiet
    destination = plan_build(project, settings, output=output, force=force)  # before uv runs
    project, out = find_project(project), destination.path
    work = temporary_venv_dir()
    try:
        venv = work / "venv"
        emit(f"creating a fresh environment of {project} with uv")
        create_project_venv(project, venv, settings)
        result = export(
            venv,
            out,
            settings,
            force=force,
            verify=verify,
            say=emit,
            progress=progress,
            sbom_path=sbom_path,
            cache=cache,
        )
        emit(_base_note(result.plan))
        return dataclasses.replace(result, label=f"the project {project}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _base_note(plan: Plan) -> str:
    """Which base interpreter uv picked for a build, and the glibc floor that sets."""
    base = plan.source.base
    kind = base_kind(base)
    note = f"base interpreter: CPython {base.version_str} at {base.prefix} ({kind})"
    if base.platform == "linux":
        note += f"; the export needs glibc >= {plan.glibc_floor or 'any'}"
        if kind == "distribution":
            note += (
                " (a uv-managed Python needs only 2.17: `uv python install "
                f"{base.version[0]}.{base.version[1]}` and `python-preference = "
                '"only-managed"` in uv.toml)'
            )
    return note


def plan_build(
    project: Path, settings: Settings, *, output: Path | None = None, force: bool = False
) -> Destination:
    """What `build --dry-run` checks: the project, its groups and extras, and the output, as a
    real build would before running uv; writes nothing."""
    project = find_project(project)
    out = build_output(project, settings, output)
    destination = Destination.of(project / ".venv", out, settings, force=force)
    check_project(project, settings)
    return destination


def build_output(project: Path, settings: Settings, output: Path | None) -> Path:
    """Where build writes: --output, else `output` of the config, else dist/<name>-portable."""
    if output is not None:
        return Path(os.path.abspath(output))
    return project / (settings.output or f"dist/{project.name}-portable")


__all__ = [
    "Caps",
    "CheckReport",
    "DryRun",
    "ExportResult",
    "Settings",
    "build",
    "check",
    "export",
    "plan_export",
]
