"""Pure decisions about ELF search paths: where entries point, and their $ORIGIN form."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

_ORIGIN_TOKENS = ("${ORIGIN}", "$ORIGIN")


@dataclass(frozen=True)
class Relocated:
    """The new search path and the entries that were dropped (with why)."""

    entries: tuple[str, ...]
    dropped: tuple[str, ...]


def expand_origin(entry: str, origin: str) -> str | None:
    """Expand $ORIGIN against a folder; None for entries using other tokens ($LIB...)."""
    for token in _ORIGIN_TOKENS:
        if entry.startswith(token):
            entry = origin + entry[len(token) :]
            break
    if "$" in entry:
        return None
    if not entry.startswith("/"):
        return None  # relative to the working directory: meaningless, kept as is
    return posixpath.normpath(entry)


def origin_relative(target_dir: str, origin_dir: str) -> str:
    """The $ORIGIN-relative spelling of target_dir as seen from a file in origin_dir."""
    rel = posixpath.relpath(target_dir, origin_dir)
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


def is_within(path: str, root: str) -> bool:
    """Whether a normalised absolute path is root or lies below it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def map_into(path: str, roots: Sequence[tuple[str, str]]) -> str | None:
    """Map a source path into the output through the longest matching (src, dest) root."""
    best: tuple[str, str] | None = None
    for src, dest in roots:
        if is_within(path, src) and (best is None or len(src) > len(best[0])):
            best = (src, dest)
    if best is None:
        return None
    rel = posixpath.relpath(path, best[0])
    return best[1] if rel == "." else posixpath.join(best[1], rel)


def relocate(
    entries: Sequence[str],
    *,
    src_dir: str,
    dest_dir: str,
    roots: Sequence[tuple[str, str]],
) -> Relocated:
    """Rewrite search-path entries of a file moving from src_dir to dest_dir.

    Entries that point into a root (the venv, the base prefix) become $ORIGIN-relative to
    the file's new place; entries that point elsewhere are dropped, since the target host
    will not have them (libraries found there are the bundler's business).
    """
    out: list[str] = []
    dropped: list[str] = []
    for entry in entries:
        expanded = expand_origin(entry, src_dir)
        if expanded is None:
            new = entry  # other tokens or cwd-relative: not ours to judge
        else:
            mapped = map_into(expanded, roots)
            if mapped is None:
                dropped.append(entry)
                continue
            new = origin_relative(mapped, dest_dir)
        if new not in out:
            out.append(new)
    return Relocated(tuple(out), tuple(dropped))
