"""The glibc floor of ELF files, and the findings for a target glibc: one place for both."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from uv_portable.binaries.elf import ElfInfo
from uv_portable.errors import UsageError
from uv_portable.findings import finding
from uv_portable.glibc_version import GlibcVersion
from uv_portable.model import Finding

_SYMBOL = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


def needed_glibc(info: ElfInfo) -> GlibcVersion | None:
    """The newest GLIBC_x.y symbol version a file needs (None when it needs none)."""
    best: GlibcVersion | None = None
    for _, version in info.version_needs:
        match = _SYMBOL.match(version)
        if match:
            found = GlibcVersion(int(match[1]), int(match[2]))
            best = found if best is None or found > best else best
    return best


_VERSIONED = re.compile(r"^(GLIBC|GLIBCXX)_(\d+(?:\.\d+)*)$")
SYMBOL_FAMILIES = ("GLIBC", "GLIBCXX")  # glibc's and libstdc++'s symbol versions


def highest_symbol_versions(
    per_file: Mapping[str, Iterable[tuple[str, str]]],
) -> tuple[tuple[str, str, str], ...]:
    """For GLIBC_ and GLIBCXX_: the highest version any file needs and the first file (in
    path order) that needs it, as (family, version, path); families no file needs are left out.
    """
    best: dict[str, tuple[tuple[int, ...], str, str]] = {}
    for path in sorted(per_file):
        for _, name in per_file[path]:
            match = _VERSIONED.match(name)
            if match is None:
                continue
            key = tuple(int(p) for p in match[2].split("."))
            family = match[1]
            if family not in best or key > best[family][0]:
                best[family] = (key, match[2], path)
    return tuple((f, best[f][1], best[f][2]) for f in SYMBOL_FAMILIES if f in best)


def too_new(per_file: Mapping[str, GlibcVersion], target: GlibcVersion) -> list[Finding]:
    """An error for every file that needs a newer glibc than the target, newest first."""
    found = sorted(((v, p) for p, v in per_file.items() if v > target), reverse=True)
    return [
        finding(
            "glibc-too-new",
            path,
            f"needs glibc {version}, newer than the target {target}",
            subject=str(version),
        )
        for version, path in found
    ]


def parse_target_glibc(value: str) -> GlibcVersion:
    """A --target-glibc value as a version, or a UsageError saying what is accepted."""
    try:
        return GlibcVersion.parse(value)
    except ValueError:
        raise UsageError(
            f"--target-glibc {value!r} is not a glibc version",
            'use a version like "2.28" or a tag like "manylinux_2_28"',
        ) from None
