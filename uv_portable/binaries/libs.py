"""Resolve shared-library dependencies the way the dynamic loader does, without running
anything (auditwheel's lddtree is the model)."""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from uv_portable.binaries.elf import ElfInfo
from uv_portable.binaries.policy import is_system_library
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


def search_dirs(info: ElfInfo, origin: str, inherited_rpath: Sequence[str] = ()) -> list[str]:
    """The folders the loader searches for this object's dependencies, in order."""
    dirs: list[str] = []
    if info.runpath is None:  # DT_RPATH applies only without DT_RUNPATH
        dirs += [d for d in (expand_origin(e, origin) for e in info.rpath or ()) if d]
        dirs += list(inherited_rpath)
    dirs += [d for d in (expand_origin(e, origin) for e in info.runpath or ()) if d]
    return dirs


def _any(path: str) -> bool:
    return True


def resolve_on_host(
    soname: str,
    dirs: Iterable[str],
    extra_default: Sequence[str] = (),
    accept: Callable[[str], bool] = _any,
) -> str | None:
    """Where soname is found in dirs, then in ld.so.conf folders and the default folders;
    ``accept`` skips files the loader would skip too (another ELF class or machine)."""
    if "/" in soname:
        return soname if os.path.isfile(soname) and accept(soname) else None
    for folder in [*dirs, *extra_default, *ld_so_conf_dirs(), *DEFAULT_DIRS]:
        candidate = os.path.join(folder, soname)
        if os.path.isfile(candidate) and accept(candidate):
            return candidate
    return None


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
