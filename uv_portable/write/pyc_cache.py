"""uv-portable's cache folder: where it is, whether it can be used, its size, least-recently-used
eviction and cleaning. What goes in it is decided elsewhere: content-addressed pycs
(pyc_worker.py writes and reads them) and source venvs' import baselines (baseline_cache.py).

Entries are single files that appear by rename, so exports running at once never see a partial
one, and eviction or `cache clean` under a running export only costs that export a recompile.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uv_portable.errors import UsageError

CACHE_ENV = "UV_PORTABLE_CACHE_DIR"
LIMIT_ENV = "UV_PORTABLE_CACHE_LIMIT"  # bytes, or with a K/M/G suffix
DEFAULT_LIMIT = 2 * 1024**3
STALE_TMP_SECONDS = 3600.0  # a temp file this old belongs to a killed export
FOLDERS = ("pyc-v1", "imports-v1")  # what is uv-portable's: size, eviction and clean see only these


@dataclass(frozen=True)
class Cache:
    """A usable cache folder and its size bound."""

    root: Path
    limit: int = DEFAULT_LIMIT

    @property
    def pycs(self) -> Path:
        """The content-addressed pycs (see pyc_worker.py)."""
        return self.root / FOLDERS[0]

    @property
    def baselines(self) -> Path:
        """The source venvs' import baselines (see baseline_cache.py)."""
        return self.root / FOLDERS[1]


def default_root() -> Path:
    """The platform cache folder: $XDG_CACHE_HOME/uv-portable, else ~/.cache/uv-portable."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "uv-portable"


def cache_root(option: Path | None = None) -> Path:
    """The cache folder: --cache-dir, else $UV_PORTABLE_CACHE_DIR, else the platform's."""
    if option is not None:
        return Path(os.path.abspath(option))
    env = os.environ.get(CACHE_ENV, "")
    return Path(os.path.abspath(env)) if env else default_root()


def parse_limit(text: str) -> int:
    """A size bound like "500M", "2G" or "1000000" in bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if match is None:
        raise UsageError(
            f"{LIMIT_ENV}={text!r} is not a size", "give bytes, or a number with K, M or G"
        )
    unit = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[str(match[2]).upper()]
    return int(str(match[1])) * unit


def open_cache(root: Path, say: Callable[[str], None]) -> Cache | None:
    """The cache at root, created if missing; None (and one line said) when it cannot be
    written: the export then goes on without it."""
    limit = os.environ.get(LIMIT_ENV, "")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe.{os.getpid()}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        say(f"cache not used: cannot write to {root} ({exc.strerror}); exporting without it")
        return None
    return Cache(root, parse_limit(limit) if limit else DEFAULT_LIMIT)


def _files(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every regular file below the cache's own folders at root (not following symlinks)."""
    for name in FOLDERS:
        yield from _walk(root / name)


def _walk(folder: Path) -> Iterator[os.DirEntry[str]]:
    try:
        it = os.scandir(folder)
    except OSError:
        return
    with it:
        for entry in it:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield entry


def usage(root: Path) -> tuple[int, int]:
    """(files, bytes) in the cache."""
    files = total = 0
    for entry in _files(root):
        files += 1
        total += entry.stat(follow_symlinks=False).st_size
    return files, total


def evict(cache: Cache) -> tuple[int, int]:
    """Remove least recently used entries (and killed exports' temp files) until the cache
    holds at most 90% of its bound; return (files, bytes) removed."""
    now = time.time()
    entries: list[tuple[float, int, str]] = []
    removed = freed = 0
    for entry in _files(cache.root):
        st = entry.stat(follow_symlinks=False)
        if entry.name.endswith(".tmp") and now - st.st_mtime > STALE_TMP_SECONDS:
            removed, freed = removed + _unlink(entry.path), freed + st.st_size
        else:
            entries.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    if total <= cache.limit:
        return removed, freed
    entries.sort()
    for _, size, path in entries:
        if total <= cache.limit * 0.9:
            break
        if _unlink(path):
            removed, freed, total = removed + 1, freed + size, total - size
    return removed, freed


def _unlink(path: str) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:  # another export evicted it first
        return 0
    return 1


def clean(root: Path) -> tuple[int, int]:
    """Empty the cache; return (files, bytes) removed. Only uv-portable's own folders go."""
    files, total = usage(root)
    for name in FOLDERS:
        shutil.rmtree(root / name, ignore_errors=True)
    left_files, left_bytes = usage(root)
    return files - left_files, total - left_bytes


__all__ = ["CACHE_ENV", "Cache", "cache_root", "clean", "evict", "open_cache", "usage"]
