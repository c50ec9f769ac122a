"""``uv-portable check``: is a folder or archive self-contained? Statically, and by running it
in a sandbox that hides the host's Python."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uv_portable import __version__
from uv_portable.binaries.policy import missing_finding
from uv_portable.distributions import module_owners, read_distributions
from uv_portable.errors import ToolError, UsageError
from uv_portable.formats import FormatError, resolve_format
from uv_portable.glibc import parse_target_glibc, too_new
from uv_portable.glibc_version import GlibcVersion, floor_of
from uv_portable.importcheck import (
    STDLIB_MODULES,
    ImportBaseline,
    compare,
    judge_without_baseline,
    modules_to_probe,
)
from uv_portable.manifest import (
    Manifest,
    ManifestError,
    compare_files,
    load_manifest,
)
from uv_portable.model import Finding, MissingLibrary, finding_json, symbol_versions_json
from uv_portable.output import MANIFEST_PATH
from uv_portable.probe import IsolationRequest, ProbeRun, probe_tree
from uv_portable.spark import ZIP_NOTE
from uv_portable.verify import verify_tree

# Archive extraction caps (zip bombs); ``--max-extract-size`` / ``--max-members`` raise them.
MAX_EXTRACT_BYTES = 32 * 1024**3
MAX_MEMBERS = 1_000_000


@dataclass(frozen=True)
class Caps:
    """How much an archive may expand to before check refuses to extract it."""

    bytes: int = MAX_EXTRACT_BYTES
    members: int = MAX_MEMBERS

    def admit(self, archive: Path, count: int, total: int) -> None:
        """Raise a UsageError once the members so far exceed a cap."""
        if count > self.members:
            raise UsageError(
                f"{archive} holds more than {self.members} members; not extracted",
                "if that is expected, raise the cap with --max-members",
            )
        if total > self.bytes:
            raise UsageError(
                f"{archive} expands to more than {self.bytes} bytes; not extracted",
                "if that is expected, raise the cap with --max-extract-size",
            )


@dataclass(frozen=True)
class CheckReport:
    """The result of checking one path."""

    path: str
    findings: tuple[Finding, ...]
    glibc: tuple[tuple[str, GlibcVersion], ...] = ()
    run: ProbeRun | None = None
    manifest: bool = False  # whether a manifest was found and compared
    host_requirements: tuple[str, ...] = ()
    matched: int | None = None  # files whose hashes match the manifest (None: not compared)
    run_error: ToolError | None = None  # the sandbox could not start: the host's, not the tree's
    notes: tuple[str, ...] = ()  # facts about where it runs that no check here can see
    symbol_versions: tuple[tuple[str, str, str], ...] = ()  # (family, version, path)

    @property
    def glibc_floor(self) -> GlibcVersion | None:
        """The newest glibc any file needs."""
        return floor_of(v for _, v in self.glibc)

    @property
    def ok(self) -> bool:
        """No error findings (a failed run adds error findings)."""
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (for ``--json``)."""
        run = None
        if self.run is not None:
            run = {
                "sandbox": self.run.isolation,
                "started": self.run.started,
                "ok": self.ok,
                "message": self.run.message,
                "imported": list(self.run.imported),
                "failures": [{"module": m, "error": e} for m, e in self.run.failed.items()],
            }
        elif self.run_error is not None:
            run = {"started": False, "error": self.run_error.message}
        return {
            "path": self.path,
            "ok": self.ok,
            "manifest": self.manifest,
            "files_matched": self.matched,
            "glibc_floor": str(self.glibc_floor) if self.glibc_floor else None,
            "glibc_per_file": {p: str(v) for p, v in self.glibc},
            "symbol_versions": symbol_versions_json(self.symbol_versions),
            "host_requirements": list(self.host_requirements),
            "findings": [finding_json(f) for f in self.findings],
            "run": run,
            "notes": list(self.notes),
        }


def _unsafe(name: str) -> str | None:
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../"):
        return f"member name {name!r} would be written outside the folder"
    return None


def link_escapes(name: str, target: str, hard: bool) -> bool:
    """Whether a link member (hard: relative to the archive's root) points outside it."""
    if target.startswith("/"):
        return True
    base = "" if hard else posixpath.dirname(name)
    norm = posixpath.normpath(posixpath.join(base, target))
    return norm == ".." or norm.startswith("../")


def extract_tar(
    tar: tarfile.TarFile, dest: Path, findings: list[Finding], caps: Caps, archive: Path
) -> None:
    """Extract a tar's safe members into dest; unsafe ones become findings, caps apply."""
    data_filter = getattr(tarfile, "data_filter", None)
    count = total = 0
    for member in tar:
        count, total = count + 1, total + max(member.size, 0)
        caps.admit(archive, count, total)
        problem = _unsafe(member.name)
        is_link = member.issym() or member.islnk()
        if (
            problem is None
            and is_link
            and link_escapes(member.name, member.linkname, member.islnk())
        ):
            problem = f"link {member.name} -> {member.linkname} points outside the archive"
        if problem is None and not (
            member.isfile() or member.isdir() or member.issym() or member.islnk()
        ):
            problem = f"{member.name} is a device or special file"
        if problem is not None:
            findings.append(
                Finding(
                    "error",
                    "unsafe-member",
                    member.name,
                    problem,
                    "rebuild the archive with uv-portable",
                )
            )
            continue
        if data_filter is not None:
            tar.extract(member, dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706; checked by hand above
            tar.extract(member, dest)


def _extract_zip(archive: Path, dest: Path, findings: list[Finding], caps: Caps) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        caps.admit(archive, len(infos), sum(i.file_size for i in infos))
        for info in infos:
            problem = _unsafe(info.filename)
            mode = info.external_attr >> 16
            if problem is None and stat.S_ISLNK(mode):
                target = zf.read(info).decode()
                if link_escapes(info.filename.rstrip("/"), target, hard=False):
                    problem = f"link {info.filename} -> {target} points outside the archive"
                else:
                    path = dest / info.filename
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(target, path)
                    continue
            if problem is not None:
                findings.append(
                    Finding(
                        "error",
                        "unsafe-member",
                        info.filename,
                        problem,
                        "rebuild the archive with uv-portable",
                    )
                )
                continue
            zf.extract(info, dest)
            if mode and not info.is_dir():
                os.chmod(dest / info.filename, stat.S_IMODE(mode) & 0o755 | 0o600)


def _archive_format(path: Path) -> str:
    try:
        return resolve_format(path).name
    except FormatError as exc:
        raise UsageError(exc.message, exc.hint) from None


def extract_safely(archive: Path, dest: Path, caps: Caps = Caps()) -> list[Finding]:
    """Extract an archive into dest, skipping (and reporting) members that would escape it,
    and refusing archives that expand past the caps."""
    fmt = _archive_format(archive)
    if archive.is_dir() or fmt in ("oci", "oci.tar"):  # issue 21: read-only images
        from uv_portable.oci_read import extract_image

        return extract_image(archive, dest, caps)
    if fmt in ("squashfs", "squashfs-gzip"):
        from uv_portable.squashfs import extract_squashfs

        return extract_squashfs(archive, dest, caps)
    findings: list[Finding] = []
    if fmt == "zip":
        _extract_zip(archive, dest, findings, caps)
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


def export_root(tree: Path) -> Path:
    """Where an extracted export starts: below the folders that --arcroot put it under."""
    while not (tree / MANIFEST_PATH).exists() and not (tree / "bin").exists():
        children = list(tree.iterdir())
        if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
            break
        tree = children[0]
    return tree


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
        return run, [Finding("error", "interpreter-failed", "bin/python", run.message)]
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


def check(
    path: Path,
    *,
    run: bool = False,
    target_glibc: str | None = None,
    imports: tuple[str, ...] = (),
    skip_imports: tuple[str, ...] = (),
    sandbox: IsolationRequest = "auto",
    caps: Caps = Caps(),
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
            findings.append(
                Finding("error", "bad-manifest", MANIFEST_PATH, str(exc), "re-export it")
            )
        tolerated = frozenset(manifest.tolerated_libraries) if manifest else frozenset()
        # A folder checked in place still knows its own path: scripts naming it break on moving.
        report = verify_tree(
            tree, build_paths=(str(path),) if tree == path else (), tolerated=tolerated
        )
        findings += report.findings
        matched = None
        if manifest is not None:
            compared = compare_files(tree, manifest)
            findings += compared
            matched = len(manifest.files) - sum(1 for f in compared if f.path in manifest.files)
            findings += [
                missing_finding(
                    MissingLibrary(
                        m["soname"], tuple(m["needed_by"]), m["reason"], m.get("distribution", "")
                    )
                )
                for m in manifest.tolerated_libraries.values()
            ]
            findings += [
                Finding("warning", "data-gap", MANIFEST_PATH, gap)
                for gap in manifest.data.get("data_gaps", [])
            ]
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
