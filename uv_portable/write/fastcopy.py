"""Copy one file with the kernel's fast paths (reflink, copy_file_range, sendfile) and as few
system calls as possible; content, permission bits and times, like shutil.copy2 without xattrs."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys

FICLONE = 0x40049409  # ioctl: share the source's extents (btrfs, xfs, bcachefs)
# Errors that mean "this fast path is not available here", not "the copy failed".
_UNSUPPORTED = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTTY, errno.EBADF}
)
# Source devices from which a fast path failed: not tried again in this process (an export
# writes to one output filesystem).
_no_reflink: set[int] = set()
_no_copy_range: set[int] = set()


def copy_file(src: str, dest: str) -> int:
    """Copy src to a new file dest (which must not exist), with its mode and times; return the
    number of bytes copied."""
    if not sys.platform.startswith("linux"):
        shutil.copy2(src, dest)  # fcopyfile / clonefile on macOS
        return os.stat(dest).st_size
    sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(sfd)
        dfd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            if st.st_size:
                _copy_data(sfd, dfd, st.st_dev, st.st_size)
            os.fchmod(dfd, stat.S_IMODE(st.st_mode))
            os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return st.st_size


def _copy_data(sfd: int, dfd: int, src_dev: int, size: int) -> None:
    if src_dev not in _no_reflink:
        import fcntl

        try:
            fcntl.ioctl(dfd, FICLONE, sfd)
            return
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            _no_reflink.add(src_dev)
    done = 0
    if src_dev not in _no_copy_range:
        try:
            while done < size:
                n = os.copy_file_range(sfd, dfd, size - done)  # releases the GIL
                if n == 0:
                    break
                done += n
            if done >= size:
                return
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED or done:
                raise
            _no_copy_range.add(src_dev)
    while done < size:
        n = os.sendfile(dfd, sfd, done, size - done)
        if n == 0:
            break  # the source shrank while we copied: keep what was there
        done += n
