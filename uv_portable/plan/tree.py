"""The walk over source folders: every entry becomes a planned file, folder or symlink."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from uv_portable.errors import OutputError
from uv_portable.model import MakeSymlink
from uv_portable.plan.state import Origin, PlanState
from uv_portable.runpath import map_into

Skip = Callable[[str], bool]


def _join(parent: str, name: str) -> str:
    return name if not parent else f"{parent}/{name}"


def _never(rel: str) -> bool:
    return False


def add_tree(
    state: PlanState, src: Path, dest: str, origin: Origin, skip: Skip = _never, rel: str = ""
) -> None:
    """Add a folder recursively; ``skip`` gets every path relative to the top folder."""
    try:
        state.add_dir(dest, src.stat().st_mode)
        entries = sorted(os.scandir(src), key=lambda e: e.name)
    except PermissionError as exc:
        raise OutputError(
            f"cannot read {src}: permission denied", "fix its permissions or run as its owner"
        ) from exc
    add_entries(state, dest, origin, entries, skip, rel)


def add_entries(
    state: PlanState,
    dest: str,
    origin: Origin,
    entries: list[os.DirEntry[str]],
    skip: Skip = _never,
    rel: str = "",
) -> None:
    """Add directory entries below the output folder dest (``rel``: dest below the top)."""
    for entry in entries:
        entry_rel = _join(rel, entry.name)
        if skip(entry_rel):
            continue
        path = Path(entry.path)
        target = _join(dest, entry.name)
        if entry.is_symlink():
            add_symlink(state, path, target, origin)
        elif entry.is_dir():
            add_tree(state, path, target, origin, skip, entry_rel)
        elif entry.is_file():
            state.add_file(path, target, origin, entry.stat())
        else:
            state.finding("special-file", target, "not a regular file; left out")


def add_symlink(state: PlanState, link: Path, dest: str, origin: Origin) -> None:
    """A link into the output stays a (relative) link; one pointing outside is copied."""
    target = os.readlink(link)
    absolute = posixpath.normpath(posixpath.join(str(link.parent), target))
    mapped = map_into(absolute, state.roots)
    if mapped is not None:
        rel = posixpath.relpath(mapped, posixpath.dirname(state.out(dest)))
        state.add(MakeSymlink(dest, rel), origin)
        return
    real = Path(os.path.realpath(link))
    if real.is_file():
        state.add_file(real, dest, origin, real.stat())
        state.finding("symlink-copied", dest, f"points outside ({target}); copied")
    elif real.is_dir():
        add_tree(state, real, dest, origin)
        state.finding("symlink-copied", dest, f"points outside ({target}); copied")
    else:
        state.finding("dangling-symlink", dest, f"points to missing {target}")
