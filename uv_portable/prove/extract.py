"""Safe extraction of archives for `check`: members that would escape the folder become
findings, and caps refuse archives that expand too far (zip bombs). The image readers
(oci_read.py, squashfs.py) use the same caps and link rules."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from uv_portable.errors import UsageError
from uv_portable.findings import finding
from uv_portable.model import Finding
from uv_portable.publish.output import MANIFEST_PATH

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


NO_CAPS_GIVEN = Caps()  # the defaults, for function signatures


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
            findings.append(finding("unsafe-member", member.name, problem))
            continue
        if data_filter is not None:
            tar.extract(member, dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706; checked by hand above
            tar.extract(member, dest)


def extract_zip(archive: Path, dest: Path, findings: list[Finding], caps: Caps) -> None:
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
                findings.append(finding("unsafe-member", info.filename, problem))
                continue
            zf.extract(info, dest)
            if mode and not info.is_dir():
                os.chmod(dest / info.filename, stat.S_IMODE(mode) & 0o755 | 0o600)


def export_root(tree: Path) -> Path:
    """Where an extracted export starts: below the folders that --arcroot put it under."""
    while not (tree / MANIFEST_PATH).exists() and not (tree / "bin").exists():
        children = list(tree.iterdir())
        if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
            break
        tree = children[0]
    return tree
