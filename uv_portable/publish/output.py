"""Where results go: output locations checked up front, a staging folder beside the output,
and an atomic publish; what killed exports left in the folder is removed."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from uv_portable.errors import UsageError
from uv_portable.interrupts import deferred

# Every export carries its manifest here; `--force` replaces only folders that hold one.
MANIFEST_PATH = "share/uv-portable/manifest.json"

# Temporary names beside an output say who made them, so that a later run can remove what a
# killed one (kill -9, a CI timeout) left: .NAME.<pid>-<host>-<token>.uv-portable-<kind>
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def temp_path(out: Path, kind: str = "tmp") -> Path:
    """A hidden path beside out, on the same file system, naming its owner process."""
    token = secrets.token_hex(4)
    return out.parent / f".{out.name}.{os.getpid()}-{_HOST}-{token}.uv-portable-{kind}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_STALE = re.compile(r"^\..+\.(\d+)-([0-9a-f]{8})-[0-9a-f]+\.uv-portable-(tmp|old)$")


def remove_stale(folder: Path) -> int:
    """Remove what killed exports left in folder, whatever their output names (their owner
    process on this host is gone); how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _STALE.match(entry.name)
        if match is None or match[2] != _HOST or _alive(int(match[1])):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        removed += 1
    return removed


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename src to dst, failing with FileExistsError if dst exists (renameat2 on Linux;
    elsewhere a hard link for files, which fails the same way)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE):
            code = ctypes.get_errno()
            if code not in (errno.ENOSYS, errno.EINVAL):  # a file system without the flag
                raise OSError(code, os.strerror(code), str(dst))
        else:
            return
    if src.is_dir():
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
        os.rename(src, dst)  # a small window, only where the kernel lacks renameat2
    else:
        os.link(src, dst)
        os.unlink(src)


def _taken(out: Path) -> UsageError:
    return UsageError(
        f"output {out} appeared while exporting (another export to the same output?)",
        "pass --force to replace it, or choose another output path",
    )


def check_output_location(
    src: Path, out: Path, *, force: bool, fmt: str = "dir", make_parent: bool = False
) -> None:
    """Refuse outputs that overlap the source or would clobber data.

    With ``make_parent``, a missing output folder is fine if it can be created.
    """
    if out.is_symlink() and not force:
        raise UsageError(
            f"output {out} is a symlink (to {os.readlink(out)})",
            "pass --force to replace the link itself, or choose another output path",
        )
    link = out.is_symlink()  # with --force: the link itself is replaced, never followed
    src_real = src.resolve()
    out_real = out.parent.resolve() / out.name if link else out.resolve()
    if out_real.is_relative_to(src_real):
        raise UsageError(
            f"output {out} is inside the source {src}", "choose an output path outside the venv"
        )
    if src_real.is_relative_to(out_real):
        raise UsageError(
            f"the source {src} is inside the output {out}",
            "choose an output folder that does not contain the venv",
        )
    parent = out_real.parent
    while make_parent and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(
            f"{parent} is not a folder, so {out} cannot be made there",
            "choose another output path",
        )
    if not parent.is_dir():
        raise UsageError(f"output folder {parent} does not exist", f"create it: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"output folder {parent} is not writable", "choose another output location"
        )
    if link:
        return
    if fmt in ("dir", "oci"):  # an OCI image layout is a folder too
        if out.exists() and not out.is_dir():
            raise UsageError(
                f"output {out} exists and is not a folder",
                "remove it or choose another output path",
            )
        if out.is_dir() and any(out.iterdir()):
            if not force:
                raise UsageError(
                    f"output {out} exists and is not empty",
                    "pass --force to replace it, or choose another output path",
                )
            if not (out / MANIFEST_PATH).is_file():
                raise UsageError(
                    f"output {out} is a folder that uv-portable did not make "
                    f"(no {MANIFEST_PATH}); --force replaces only earlier exports",
                    "remove it yourself if it can go, or choose another output path",
                )
    elif out.is_dir():
        raise UsageError(
            f"output {out} is a folder, not a {fmt} file", "choose a file name such as env.tar.gz"
        )
    elif out.exists() and not force:
        raise UsageError(
            f"output {out} already exists",
            "pass --force to replace it, or choose another output path",
        )


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A fresh folder beside out (same filesystem, so the final rename is atomic).

    Named before it is made, inside the try: a signal right after mkdir still removes it.
    """
    stage = temp_path(out)
    try:
        stage.mkdir()
        yield stage
    finally:
        with deferred():  # a second Ctrl-C must not cut the cleanup short
            shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path, *, force: bool) -> None:
    """Move the finished staging folder to out: only if out is still absent (or the empty
    folder it was), unless force replaces it, as late as possible."""
    if force and (out.is_symlink() or out.is_file()):
        out.unlink()
    if force and out.is_dir():
        old = temp_path(out, "old")
        os.rename(out, old)
        try:
            os.rename(stage, out)
        except BaseException:
            os.rename(old, out)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    if out.is_dir() and not out.is_symlink():
        try:
            out.rmdir()  # the empty folder the user made for it
        except OSError as exc:
            raise _taken(out) from exc
    try:
        rename_noreplace(stage, out)
    except FileExistsError as exc:
        raise _taken(out) from exc


@contextlib.contextmanager
def atomic_file(dest: Path, *, replace: bool) -> Iterator[Path]:
    """A fresh temp path beside dest (not created) for a writer to fill; moved to dest on
    success (over an old one only with ``replace``), removed on any failure or interrupt."""
    tmp = temp_path(dest)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        publish_file(tmp, dest, force=replace)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def publish_file(tmp: Path, out: Path, *, force: bool) -> None:
    """Move a finished file (an archive) to out: create if absent, unless force."""
    if force:
        os.replace(tmp, out)
        return
    try:
        rename_noreplace(tmp, out)
    except FileExistsError as exc:
        raise _taken(out) from exc
