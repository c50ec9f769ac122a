"""Export a Windows venv: read, plan, refuse or write (folder or archive), verify, publish."""

from __future__ import annotations

import os
import time
from pathlib import Path

from uv_portable.api import ExportResult, Say, options_json, refuse_if_needed
from uv_portable.archive import ArchiveOptions, ArchiveSummary, write_archive
from uv_portable.errors import VerifyError
from uv_portable.manifest import (
    MANIFEST_PATH,
    SBOM_PATH,
    ExportFacts,
    build_manifest,
    write_document,
)
from uv_portable.materialize import materialize
from uv_portable.model import CopyFile, Plan, WriteFile
from uv_portable.output import check_output_location, publish, staging_dir, terminate_as_interrupt
from uv_portable.plan import ExportOptions
from uv_portable.progress import ProgressFactory, progress_bar
from uv_portable.sbom import make_sbom
from uv_portable.windows.detect import load_windows_venv
from uv_portable.windows.plan import make_windows_plan
from uv_portable.windows.verify import verify_windows_tree


def plan_windows_export(src: Path, options: ExportOptions | None, base: Path | None) -> Plan:
    """Read a Windows venv and decide everything; writes nothing."""
    return make_windows_plan(load_windows_venv(src, base), options)


def export_windows(
    src: Path,
    out: Path,
    options: ExportOptions | None = None,
    *,
    base: Path | None = None,
    archive: ArchiveOptions | None = None,
    force: bool = False,
    verify: bool = True,
    say: Say | None = None,
    progress: ProgressFactory | None = None,
    make_parent: bool = False,
) -> ExportResult:
    """Export the Windows venv at src as a Windows CPython folder (or archive) at out."""
    started = time.monotonic()
    emit = say or (lambda message: None)
    src, out = Path(os.path.abspath(src)), Path(os.path.abspath(out))
    venv = load_windows_venv(src, base)
    fmt = archive.format if archive is not None else "dir"
    check_output_location(src, out, force=force, fmt=fmt, make_parent=make_parent)
    options = options or ExportOptions()
    plan = make_windows_plan(venv, options)
    refuse_if_needed(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    for note in plan.notes:
        emit(note)
    if fmt not in ("dir", "zip"):
        emit("tip: .zip is the archive format Windows unpacks without extra tools")
    total = sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
    summary: ArchiveSummary | None = None
    findings = plan.findings
    with terminate_as_interrupt(), staging_dir(out) as stage:
        root = stage / "tree"
        root.mkdir()
        with progress_bar(progress, "copying", total) as advance:
            materialize(plan, root, advance, link=archive is not None)
        if verify:
            found = verify_windows_tree(
                root, venv.build_paths, options.allow_missing, options.bundle
            )
            errors = [f for f in found if f.severity == "error"]
            if errors:
                raise VerifyError(
                    f"the export would not be portable: {errors[0].path}: {errors[0].message}",
                    errors[0].hint or "report this to uv-portable with the venv's details",
                )
            findings = plan.findings + tuple(f for f in found if f not in plan.findings)
        # The manifest and SBOM, as for Linux and macOS exports (no import baseline: the
        # export's imports are not run on this host).
        facts = ExportFacts(options=options_json(options, archive))
        manifest = build_manifest(root, plan, facts)
        write_document(root, MANIFEST_PATH, manifest)
        write_document(root, SBOM_PATH, make_sbom(manifest))
        if archive is None:
            publish(root, out, force=force)
        else:
            with progress_bar(progress, f"writing {out.name}", total) as advance:
                summary = write_archive(root, out, archive, advance, replace=force)
    return ExportResult(
        out=out,
        plan=plan,
        files=plan.count(CopyFile) + plan.count(WriteFile),
        bytes=total,
        patched=sum(
            1 for a in plan.actions if isinstance(a, WriteFile) and a.dest.endswith(".exe")
        ),
        seconds=time.monotonic() - started,
        findings=findings,
        archive=summary,
    )
