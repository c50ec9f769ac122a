"""``uv-portable check``: is a folder or archive self-contained? Statically, and by running it
in a sandbox that hides the host's Python."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from uv_portable import __version__
from uv_portable.binaries.policy import missing_finding
from uv_portable.errors import ToolError, UsageError
from uv_portable.findings import finding
from uv_portable.model import Finding, MissingLibrary
from uv_portable.prove.extract import NO_CAPS_GIVEN, Caps, export_root, extract_tar, extract_zip
from uv_portable.prove.glibc import parse_target_glibc, too_new
from uv_portable.prove.imports import (
    STDLIB_MODULES,
    ImportBaseline,
    compare,
    judge_without_baseline,
    modules_to_probe,
)
from uv_portable.prove.manifest import (
    Manifest,
    ManifestError,
    compare_files,
    load_manifest,
)
from uv_portable.prove.probe import IsolationRequest, ProbeRun, probe_tree
from uv_portable.prove.report import CheckReport
from uv_portable.prove.static import verify_tree
from uv_portable.publish.formats import FormatError, resolve_format
from uv_portable.publish.output import MANIFEST_PATH
from uv_portable.publish.spark import ZIP_NOTE
from uv_portable.source.distributions import module_owners, read_distributions


def _archive_format(path: Path) -> str:
    try:
        return resolve_format(path).name
    except FormatError as exc:
        raise UsageError(exc.message, exc.hint) from None


def extract_safely(archive: Path, dest: Path, caps: Caps = NO_CAPS_GIVEN) -> list[Finding]:
    """Extract an archive into dest, skipping (and reporting) members that would escape it,
    and refusing archives that expand past the caps."""
    fmt = _archive_format(archive)
    if archive.is_dir() or fmt in ("oci", "oci.tar"):  # issue 21: read-only images
        from uv_portable.prove.oci_read import extract_image

        return extract_image(archive, dest, caps)
    if fmt in ("squashfs", "squashfs-gzip"):
        from uv_portable.publish.squashfs import extract_squashfs

        return extract_squashfs(archive, dest, caps)
    findings: list[Finding] = []
    if fmt == "zip":
        extract_zip(archive, dest, findings, caps)
    elif fmt == "tar.zst":
        import zstandard

        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as zst,
            tarfile.open(fileobj=zst, mode="r|") as tar,
        ):
            extract_tar(tar, dest, findings, caps, archive)
    else:
        with tarfile.open(archive, "r:*") as tar:
            extract_tar(tar, dest, findings, caps, archive)
    return findings


@contextmanager
def _tree_of(path: Path, caps: Caps) -> Iterator[tuple[Path, list[Finding]]]:
    if path.is_dir() and not (path / "oci-layout").is_file():  # a layout is extracted
        yield path, []
        return
    if not path.is_dir() and _archive_format(path) == "dir":
        raise UsageError(
            f"{path} is not a folder or a supported archive",
            "check a folder, an OCI layout, or a .tar.gz, .tgz, .tar.zst, .tar, .zip, "
            ".oci.tar or .sqfs file",
        )
    tmp = Path(tempfile.mkdtemp(prefix="uv-portable-check-"))
    try:
        tree = tmp / "tree"
        tree.mkdir()
        try:
            findings = extract_safely(path, tree, caps)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise UsageError(
                f"{path} is not a readable archive: {exc}", "check that the file is complete"
            ) from exc
        yield export_root(tree), findings
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    tree: Path,
    manifest: Manifest | None,
    imports: tuple[str, ...],
    skip_imports: tuple[str, ...],
    sandbox: IsolationRequest,
) -> tuple[ProbeRun, list[Finding]]:
    """Run the tree where the host's Python is hidden and judge its imports: against the
    manifest's baseline when there is one, else for portability problems only."""
    if not (tree / "bin" / "python").exists():
        run = ProbeRun(
            "none",
            False,
            message="the interpreter is missing: bin/python is not in the tree, "
            "so the target host would need its own Python",
        )
        return run, [finding("interpreter-failed", "bin/python", run.message)]
    baseline = manifest.baseline if manifest is not None else None
    dists = tuple(
        d
        for site in sorted(tree.glob("lib/python3*/site-packages"))
        for d in read_distributions(site)
    )
    if baseline is not None:
        wanted = (*STDLIB_MODULES, *baseline, *imports)
    else:
        wanted = (*modules_to_probe(dists), *imports)
    modules = [m for m in dict.fromkeys(wanted) if m not in skip_imports]
    # A sandbox that cannot start raises (the host's failure): never a finding about the tree.
    run = probe_tree(tree, modules, isolation=sandbox)
    if baseline is not None:
        must = (*STDLIB_MODULES, *baseline, *imports)
        broken = manifest.broken_in_source if manifest else {}
        findings = compare(
            ImportBaseline(tuple(must), broken), run, module_owners(dists), exporting=False
        )
    else:
        findings = judge_without_baseline(run)
        asked = set(imports)
        findings = [replace(f, severity="error") if f.subject in asked else f for f in findings]
    return run, findings


# Hints that tell the user to export (again) with uv-portable: wrong about a tree it made.
_EXPORT_ADVICE = re.compile(
    r"\b(?:re-?export|export|rebuild)\b[^;]*\buv-portable\b|uv-portable export"
)


def reword_for_export(findings: list[Finding], made_by: str) -> list[Finding]:
    """Findings about a tree uv-portable made (``made_by``: its version), with hints that say
    "export with uv-portable" replaced by what helps there."""
    hint = (
        f"the tree was exported by uv-portable {made_by}: re-export it with this version "
        f"({__version__}), and report it if the finding stays"
    )
    return [replace(f, hint=hint) if _EXPORT_ADVICE.search(f.hint) else f for f in findings]


def _manifest_requirements(manifest: Manifest | None) -> list[str]:
    """What the export recorded that the target host must provide (terminfo, ...)."""
    return list(manifest.data.get("host_requirements", [])) if manifest else []


def _against_manifest(tree: Path, manifest: Manifest) -> tuple[int, list[Finding]]:
    """How many files match the manifest, and the findings it adds: changed files, the
    libraries it tolerated, the data its bundled libraries lack."""
    compared = compare_files(tree, manifest)
    matched = len(manifest.files) - sum(1 for f in compared if f.path in manifest.files)
    findings = [*compared]
    findings += [
        missing_finding(
            MissingLibrary(
                m["soname"], tuple(m["needed_by"]), m["reason"], m.get("distribution", "")
            )
        )
        for m in manifest.tolerated_libraries.values()
    ]
    findings += [
        finding("data-gap", MANIFEST_PATH, gap) for gap in manifest.data.get("data_gaps", [])
    ]
    return matched, findings


def check(
    path: Path,
    *,
    run: bool = False,
    target_glibc: str | None = None,
    imports: tuple[str, ...] = (),
    skip_imports: tuple[str, ...] = (),
    sandbox: IsolationRequest = "auto",
    caps: Caps = NO_CAPS_GIVEN,
) -> CheckReport:
    """Check a folder or archive: its manifest, static findings, and with ``run`` a sandboxed
    import of what the source could import."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise UsageError(f"{path} does not exist", "pass an exported folder or archive")
    target = parse_target_glibc(target_glibc) if target_glibc else None
    with _tree_of(path, caps) as (tree, extraction):
        # --- Windows trees: uv_portable.windows ---
        from uv_portable.windows.verify import is_windows_tree

        if is_windows_tree(tree):
            from uv_portable.windows.check import check_windows_tree

            return check_windows_tree(
                str(path), tree, extraction, run=run, imports=imports, skip_imports=skip_imports
            )
        # --- end Windows ---
        findings = [*extraction]
        try:
            manifest = load_manifest(tree)
        except ManifestError as exc:
            manifest = None
            findings.append(finding("bad-manifest", MANIFEST_PATH, str(exc)))
        tolerated = frozenset(manifest.tolerated_libraries) if manifest else frozenset()
        # A folder checked in place still knows its own path: scripts naming it break on moving.
        report = verify_tree(
            tree, build_paths=(str(path),) if tree == path else (), tolerated=tolerated
        )
        findings += report.findings
        matched = None
        if manifest is not None:
            matched, against = _against_manifest(tree, manifest)
            findings += against
        if target is not None:
            findings += too_new(dict(report.glibc), target)
        if manifest is not None:
            made_by = manifest.data.get("tool", {}).get("version", "")
            findings = reword_for_export(findings, str(made_by or "?"))
        result, run_error = None, None
        if run:
            try:
                result, run_findings = _run(tree, manifest, imports, skip_imports, sandbox)
                findings += run_findings
            except ToolError as exc:  # no sandbox: reported as such, never as the tree's fault
                run_error = exc
        return CheckReport(
            str(path),
            tuple(findings),
            report.glibc,
            result,
            manifest is not None,
            tuple(sorted({*report.host_requirements, *_manifest_requirements(manifest)})),
            matched,
            run_error,
            (ZIP_NOTE,) if path.is_file() and _archive_format(path) == "zip" else (),
            report.symbol_versions,
        )
