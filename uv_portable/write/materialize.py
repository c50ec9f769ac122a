"""Execute a Plan into a staging folder, never writing outside it."""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from uv_portable.errors import OutputError, io_error
from uv_portable.interrupts import ThreadPool
from uv_portable.model import (
    CopyFile,
    MakeDir,
    MakeSymlink,
    Plan,
    SetMachO,
    SetSearchPath,
    WriteFile,
)
from uv_portable.write.fastcopy import copy_file

Progress = Callable[[int], None]  # called with bytes done since the last call
BATCH = 64  # files per copy task


def safe_dest(root: Path, rel: str) -> Path:
    """Join a planned relative path to root, refusing anything that would leave it."""
    norm = posixpath.normpath(rel)
    if rel.startswith("/") or norm == ".." or norm.startswith("../"):
        raise OutputError(f"refusing to write outside the output: {rel}")
    return root / norm


def _copy(src: Path, dest: Path, link: bool) -> int:
    if link:
        # Only for a throw-away staging tree that is archived and deleted: never for a
        # folder the user keeps (editing it would edit the source venv).
        try:
            os.link(src, dest)
            return dest.stat().st_size
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    try:
        # reflink / copy_file_range; keeps mode and mtime (valid timestamp .pyc caches)
        return copy_file(os.fspath(src), os.fspath(dest))
    except OSError as exc:
        writing = exc.errno == errno.ENOSPC or (
            exc.filename is not None and os.fspath(exc.filename) == os.fspath(dest)
        )
        raise io_error(exc, dest if writing else src, writing) from exc


def _copy_batch(batch: list[tuple[Path, Path, bool]]) -> int:
    return sum(_copy(src, dest, link) for src, dest, link in batch)


def materialize(
    plan: Plan,
    root: Path,
    progress: Progress | None = None,
    *,
    link: bool = False,
    threads: int = 4,
) -> None:
    """Create every directory, file and symlink of the plan below root.

    With ``link``, files that no later step rewrites are hard-linked instead of copied.
    """
    patched = {a.dest for a in plan.actions if isinstance(a, (SetSearchPath, SetMachO))}
    dirs = [a for a in plan.actions if isinstance(a, MakeDir)]
    try:
        for d in dirs:
            safe_dest(root, d.dest).mkdir(parents=True, exist_ok=True)
        for action in plan.actions:
            if isinstance(action, MakeSymlink):
                os.symlink(action.target, safe_dest(root, action.dest))
            elif isinstance(action, WriteFile):
                dest = safe_dest(root, action.dest)
                dest.write_bytes(action.data)
                os.chmod(dest, action.mode)
                if action.src is not None:
                    st = action.src.stat()
                    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
    except OSError as exc:
        raise io_error(exc, root, writing=True) from exc
    copies = [
        (a.src, safe_dest(root, a.dest), link and a.dest not in patched)
        for a in plan.actions
        if isinstance(a, CopyFile)
    ]
    # Batches, not one task per file: a future per file costs the main thread a lock
    # hand-off per file, and on thousands of small files that contention was most of the
    # copy's (system) time.
    batches = [copies[i : i + BATCH] for i in range(0, len(copies), BATCH)]
    with ThreadPool(max_workers=threads) as pool:
        jobs = [pool.submit(_copy_batch, batch) for batch in batches]
        try:
            for job in jobs:
                size = job.result()
                if progress is not None:
                    progress(size)
        except BaseException:
            for job in jobs:
                job.cancel()
            raise
    # Modes last: a read-only folder from the source must not stop the copy above.
    for d in reversed(dirs):
        os.chmod(safe_dest(root, d.dest), d.mode)
