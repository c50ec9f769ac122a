"""SquashFS images of an export (issue 21), made with mksquashfs as conda-pack does, and read
back for ``check`` with unsquashfs. Deterministic: root-owned, one time (SOURCE_DATE_EPOCH), no
xattrs, so two exports of one venv give the same bytes."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from uv_portable.errors import ToolError, UsageError
from uv_portable.findings import finding
from uv_portable.model import Finding
from uv_portable.process import run_capture, run_tool
from uv_portable.publish.formats import BY_NAME
from uv_portable.publish.output import atomic_file
from uv_portable.settings import ArchiveOptions

COMPRESSORS = {"squashfs": "zstd", "squashfs-gzip": "gzip"}  # format -> mksquashfs -comp
if TYPE_CHECKING:
    from uv_portable.prove.extract import Caps

_PACKAGE_HINT = "install Debian's squashfs-tools (apt-get install squashfs-tools)"
_ROOT = "squashfs-root"  # how unsquashfs -lln names the image's root


def find_tool(name: str) -> str:
    """mksquashfs or unsquashfs (Debian keeps them in /usr/bin, some systems in /usr/sbin)."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise ToolError(f"{name} is not installed (it reads and writes SquashFS)", _PACKAGE_HINT)
    return found


def check_squashfs_options(options: ArchiveOptions) -> None:
    """Refuse, before any work, a SquashFS output that cannot be made: no mksquashfs, or
    --arcroot (an image's root is what gets mounted). Levels are checked with every format's
    (formats.py)."""
    if options.arcroot:
        raise UsageError(
            "--arcroot does not apply to SquashFS: the image's root is mounted where you choose",
            "drop --arcroot, or use a tar or OCI format",
        )
    find_tool("mksquashfs")


def mksquashfs_argv(tool: str, tree: Path, dest: Path, options: ArchiveOptions) -> list[str]:
    """The mksquashfs command that writes a deterministic image of tree at dest."""
    comp = COMPRESSORS[options.format]
    level = options.level if options.level is not None else BY_NAME[options.format].default_level
    argv = [tool, str(tree), str(dest), "-comp", comp, "-Xcompression-level", str(level)]
    stamp = str(options.mtime)
    argv += ["-all-root", "-all-time", stamp, "-mkfs-time", stamp, "-no-xattrs"]
    argv += ["-noappend", "-no-progress", "-quiet"]
    if options.threads:
        argv += ["-processors", str(options.threads)]
    return argv


def write_squashfs(
    tree: Path, dest: Path, options: ArchiveOptions, *, replace: bool = False
) -> int:
    """Write the tree as a SquashFS image at dest, atomically; its size."""
    tool = find_tool("mksquashfs")
    # A path not made yet: mksquashfs appends to an existing image. It refuses its time
    # options while SOURCE_DATE_EPOCH is set; they carry it.
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    with atomic_file(dest, replace=replace) as tmp:
        run_tool(mksquashfs_argv(tool, tree, tmp, options), what="mksquashfs", env=env)
    return dest.stat().st_size


@dataclass(frozen=True)
class Entry:
    """One line of ``unsquashfs -lln``: kind (ls's first letter), size, name, link target."""

    kind: str
    size: int
    name: str
    target: str = ""


def parse_listing(text: str) -> list[Entry]:
    """Entries of an ``unsquashfs -lln`` listing, names relative to the image's root."""
    entries: list[Entry] = []
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 6 or fields[0][:1] not in "-dlcbps" or "/" not in fields[1]:
            continue
        kind = fields[0][0]
        if kind in "cb":  # "1,  3" (major, minor) instead of a size: one more field
            fields = line.split(None, 6)
            size, rest = 0, fields[-1]
        else:
            size, rest = int(fields[2]) if fields[2].isdigit() else 0, fields[5]
        target = ""
        if kind == "l" and " -> " in rest:
            rest, target = rest.split(" -> ", 1)
        if rest == _ROOT:
            continue
        if rest.startswith(_ROOT + "/"):
            entries.append(Entry(kind, size, rest[len(_ROOT) + 1 :], target))
    return entries


def unsafe_entries(entries: list[Entry]) -> list[Finding]:
    """Special files, and links that point outside the image: not extracted, reported."""
    from uv_portable.prove.extract import link_escapes

    findings = []
    for e in entries:
        problem = ""
        if e.kind not in "-dl":
            problem = f"{e.name} is a device or special file"
        elif e.kind == "l" and link_escapes(e.name, e.target, False):
            problem = f"link {e.name} -> {e.target} points outside the image"
        if problem:
            findings.append(finding("unsafe-member", e.name, problem))
    return findings


def extract_squashfs(image: Path, dest: Path, caps: Caps) -> list[Finding]:
    """Extract a SquashFS image into dest with unsquashfs: listed first, so that the caps
    and unsafe entries are judged before anything is written."""
    tool = find_tool("unsquashfs")
    listing = run_capture([tool, "-lln", "-no-progress", str(image)])
    if listing is None or listing.returncode != 0:
        said = (listing.stderr or listing.stdout).strip().splitlines() if listing else []
        raise UsageError(
            f"{image} is not a readable SquashFS image" + (f": {said[-1].strip()}" if said else ""),
            "check that the file is complete",
        )
    entries = parse_listing(listing.stdout)
    caps.admit(image, len(entries), sum(e.size for e in entries))
    findings = unsafe_entries(entries)
    with tempfile.NamedTemporaryFile("w", suffix=".exclude") as exclude:
        exclude.write("".join(f"{f.path}\n" for f in findings))
        exclude.flush()
        argv = [tool, "-no-xattrs", "-no-progress", "-quiet", "-f", "-d", str(dest)]
        if findings:
            argv += ["-exclude-file", exclude.name]
        run_tool([*argv, str(image)], what="unsquashfs", hint="check that the file is complete")
    return findings
