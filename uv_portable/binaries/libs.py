"""Resolve shared-library dependencies the way the dynamic loader does, without running
anything (auditwheel's lddtree is the model), and compute the glibc floor."""

from __future__ import annotations

import glob
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from uv_portable.binaries.elf import ElfInfo
from uv_portable.errors import UsageError
from uv_portable.runpath import expand_origin, is_within

DEFAULT_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


@lru_cache(maxsize=1)
def _policy() -> dict[str, object]:
    text = resources.files("uv_portable.binaries").joinpath("system_libs.json").read_text()
    data: dict[str, object] = json.loads(text)
    return data


def system_sonames() -> frozenset[str]:
    """Sonames that every glibc host provides (never bundled)."""
    names = _policy()["sonames"]
    assert isinstance(names, list)
    return frozenset(str(n) for n in names)


def is_system_library(soname: str) -> bool:
    """Whether the policy says the target host provides this library."""
    return soname in system_sonames()


def parse_glibc_target(value: str) -> tuple[int, int]:
    """ "2.28", "manylinux_2_28" or "manylinux2014" -> (2, 28)."""
    aliases = _policy()["manylinux_aliases"]
    assert isinstance(aliases, dict)
    text = str(aliases.get(value, value))
    match = re.fullmatch(r"(?:manylinux_)?(\d+)[._](\d+)(?:_\w+)?", text)
    if match is None:
        raise UsageError(
            f"--target-glibc {value!r} is not a glibc version",
            'use a version like "2.28" or a tag like "manylinux_2_28"',
        )
    return int(match[1]), int(match[2])


def glibc_floor(info: ElfInfo) -> tuple[int, int] | None:
    """The newest GLIBC_x.y symbol version a file needs (None when it needs none)."""
    best: tuple[int, int] | None = None
    for _, version in info.version_needs:
        match = _GLIBC.match(version)
        if match:
            found = (int(match[1]), int(match[2]))
            best = found if best is None or found > best else best
    return best


def version_str(version: tuple[int, int] | None) -> str:
    """(2, 34) -> "2.34"."""
    return "-" if version is None else f"{version[0]}.{version[1]}"


@lru_cache(maxsize=1)
def ld_so_conf_dirs() -> tuple[str, ...]:
    """Folders from /etc/ld.so.conf (and its includes), as ldconfig would read them."""
    found: list[str] = []

    def read(path: str, depth: int = 0) -> None:
        if depth > 5:
            return
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include "):
                pattern = line.split(None, 1)[1]
                if not pattern.startswith("/"):
                    pattern = posixpath.join(posixpath.dirname(path), pattern)
                for inc in sorted(glob.glob(pattern)):
                    read(inc, depth + 1)
            elif line.startswith("/"):
                found.append(line)

    read("/etc/ld.so.conf")
    return tuple(found)


@dataclass(frozen=True)
class Resolution:
    """Where a needed library was found (None if nowhere)."""

    soname: str
    path: str | None


def search_dirs(info: ElfInfo, origin: str, inherited_rpath: Sequence[str] = ()) -> list[str]:
    """The folders the loader searches for this object's dependencies, in order."""
    dirs: list[str] = []
    if info.runpath is None:  # DT_RPATH applies only without DT_RUNPATH
        dirs += [d for d in (expand_origin(e, origin) for e in info.rpath or ()) if d]
        dirs += list(inherited_rpath)
    dirs += [d for d in (expand_origin(e, origin) for e in info.runpath or ()) if d]
    return dirs


def resolve_on_host(
    soname: str, dirs: Iterable[str], extra_default: Sequence[str] = ()
) -> Resolution:
    """Find soname in dirs, then in ld.so.conf folders and the default folders."""
    if "/" in soname:
        return Resolution(soname, soname if os.path.isfile(soname) else None)
    for folder in [*dirs, *extra_default, *ld_so_conf_dirs(), *DEFAULT_DIRS]:
        candidate = os.path.join(folder, soname)
        if os.path.isfile(candidate):
            return Resolution(soname, candidate)
    return Resolution(soname, None)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths hold the same bytes (same inode, or equal content)."""
    try:
        if os.path.samefile(a, b):
            return True
        if a.stat().st_size != b.stat().st_size:
            return False
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


@dataclass
class Closure:
    """What the loader would find inside a tree, from every object as a starting point."""

    found: set[str]  # sonames found inside the tree
    unresolved: dict[str, tuple[str, ...]]  # soname -> the objects that need it, in order


def tree_closure(
    objects: Mapping[str, ElfInfo], exists: Callable[[str], bool], inside: str
) -> Closure:
    """Resolve every object's needs inside a tree by the loader's rules.

    Paths are absolute in one namespace (the real tree, or the planner's imagined output).
    An object without DT_RUNPATH also searches the DT_RPATH of every object that loaded it
    (pillow's extensions carry RPATH=$ORIGIN/../pillow.libs for all of pillow.libs); a soname
    found once counts as loaded for every object, as for the loader (auditwheel does the same).
    """
    found: set[str] = set()
    needs: dict[str, list[str]] = {}
    visited: set[tuple[str, tuple[str, ...]]] = set()

    def inside_dirs(entries: Iterable[str] | None, origin: str) -> list[str]:
        out = []
        for entry in entries or ():
            folder = expand_origin(entry, origin)
            if folder is not None and is_within(folder, inside):
                out.append(folder)
        return out

    stack: list[tuple[str, tuple[str, ...]]] = [
        (path, ()) for path in sorted(objects, reverse=True)
    ]
    while stack:
        path, chain = stack.pop()
        if (path, chain) in visited:
            continue
        visited.add((path, chain))
        info = objects[path]
        origin = posixpath.dirname(path)
        own_rpath = tuple(inside_dirs(info.rpath, origin)) if info.runpath is None else ()
        dirs = [*own_rpath, *chain] if info.runpath is None else []
        dirs += inside_dirs(info.runpath, origin)
        # RPATHs of the loaders apply to what this object loads; kept once each, so that
        # dependency cycles end.
        child_chain = chain + tuple(d for d in own_rpath if d not in chain)
        for soname in info.needed:
            if is_system_library(soname):
                continue
            hit = next((f"{d}/{soname}" for d in dirs if exists(f"{d}/{soname}")), None)
            if hit is None:
                needers = needs.setdefault(soname, [])
                if path not in needers:
                    needers.append(path)
                continue
            found.add(soname)
            if hit in objects:
                stack.append((hit, child_chain))
    unresolved = {s: tuple(p) for s, p in needs.items() if s not in found}
    return Closure(found, unresolved)
