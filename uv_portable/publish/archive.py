"""Deterministic tar / tar.gz / tar.zst / zip writers over an export tree; temp file + rename."""

from __future__ import annotations

import os
import stat
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Literal, cast

from uv_portable.errors import io_error
from uv_portable.publish.formats import BY_NAME
from uv_portable.publish.output import atomic_file
from uv_portable.settings import ZIP_EPOCH, ArchiveOptions

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ArchiveSummary:
    """What was written."""

    bytes_out: int


@dataclass(frozen=True)
class Member:
    """One entry of the tree, in archive order."""

    arcname: str
    path: Path
    kind: Literal["dir", "file", "hardlink"]
    mode: int
    size: int = 0
    link: str = ""


def _normal_mode(kind: str, mode: int) -> int:
    if kind == "dir":
        return 0o755
    return 0o755 if mode & 0o111 else 0o644


def collect(root: Path, arcroot: str | None = None) -> list[Member]:
    """Every entry below root, sorted, with no symlinks: extractors that drop them (Spark's
    Java untar, some Windows and object-store tools) would lose bin/python. A link to a file
    becomes another name of its target (a hard link, or a copy in zip); a link to a folder
    (lib64 -> lib) is left out. Hard links are recognised by inode and stored once."""
    members: list[Member] = []
    seen: dict[tuple[int, int], str] = {}
    prefix = f"{arcroot.strip('/')}/" if arcroot else ""
    if arcroot:  # every folder of it, so that a layer on a base image has them all
        parts = arcroot.strip("/").split("/")
        members += [Member("/".join(parts[: i + 1]), root, "dir", 0o755) for i in range(len(parts))]

    def walk(folder: Path, rel: str) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            name = f"{prefix}{rel}{entry.name}"
            path = Path(entry.path)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError:
                    continue  # dangling: verification reports it
                if not stat.S_ISREG(st.st_mode):
                    continue
                path = path.resolve()
            if stat.S_ISDIR(st.st_mode):
                members.append(Member(name, path, "dir", 0o755))
                walk(path, f"{rel}{entry.name}/")
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                mode = _normal_mode("file", st.st_mode)
                if key in seen:
                    members.append(Member(name, path, "hardlink", mode, link=seen[key]))
                else:
                    seen[key] = name
                    members.append(Member(name, path, "file", mode, st.st_size))

    walk(root, "")
    return members


@contextmanager
def _atomic(dest: Path, replace: bool) -> Iterator[BinaryIO]:
    """A temp file beside dest, moved to dest on success (over an old one only with
    ``replace``) and removed on any failure."""
    with atomic_file(dest, replace=replace) as tmp, open(tmp, "xb") as fh:
        yield fh


@contextmanager
def _compressed(fh: BinaryIO, fmt: str, level: int, threads: int) -> Iterator[IO[bytes]]:
    if fmt == "tar":
        yield fh
    elif fmt == "tar.gz":
        from zlib_ng import gzip_ng_threaded

        # Multithreaded deflate; the header carries no name and mtime 0, so it is reproducible.
        with gzip_ng_threaded.open(  # type: ignore[no-untyped-call]
            fh, "wb", compresslevel=level, threads=threads
        ) as gz:
            yield gz
    else:
        import zstandard

        compressor = zstandard.ZstdCompressor(level=level, threads=threads)
        with compressor.stream_writer(fh, closefd=False) as zst:
            yield zst


def _write_tar(
    members: list[Member], out: IO[bytes], mtime: int, progress: Progress | None
) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.arcname)
            info.mtime, info.mode = mtime, m.mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if m.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif m.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, m.link
                tar.addfile(info)
            else:
                info.size = m.size
                with m.path.open("rb") as fh:
                    tar.addfile(info, fh)
                if progress is not None:
                    progress(m.size)


def _write_zip(
    members: list[Member], out: BinaryIO, level: int, mtime: int, progress: Progress | None
) -> None:
    stamp = time.gmtime(max(mtime, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for m in members:
            path = m.path
            name = m.arcname + ("/" if m.kind == "dir" else "")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # unix, so that modes are honoured by unzip
            mode = m.mode
            kind_bits = stat.S_IFDIR if m.kind == "dir" else stat.S_IFREG
            info.external_attr = (kind_bits | mode) << 16
            if m.kind == "dir":
                info.external_attr |= 0x10
                zf.writestr(info, b"")
                continue
            info.compress_type = zipfile.ZIP_DEFLATED
            size = path.stat().st_size
            with path.open("rb") as src, zf.open(info, "w", force_zip64=size > 2**31) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            if progress is not None:
                progress(size)


class _Tap:
    """A write-only stream that shows every chunk to ``tap`` before passing it on."""

    def __init__(self, out: IO[bytes], tap: Callable[[bytes], object]) -> None:
        self._out, self._tap = out, tap

    def write(self, data: bytes) -> int:
        self._tap(data)
        return self._out.write(data)


def _level(options: ArchiveOptions) -> int:
    return (
        options.level if options.level is not None else BY_NAME[options.format].default_level or 0
    )


def write_tar_stream(
    root: Path,
    fh: BinaryIO,
    options: ArchiveOptions,
    progress: Progress | None = None,
    tap: Callable[[bytes], object] | None = None,
) -> None:
    """Write the tree at root as a tar (compressed as options.format says: tar, tar.gz or
    tar.zst) to an open file; ``tap`` sees the uncompressed tar bytes (an OCI diff_id)."""
    threads = options.threads or os.cpu_count() or 1
    members = collect(root, options.arcroot)
    with _compressed(fh, options.format, _level(options), threads) as stream:
        out = cast(IO[bytes], _Tap(stream, tap)) if tap else stream
        _write_tar(members, out, options.mtime, progress)


def write_archive(
    root: Path,
    dest: Path,
    options: ArchiveOptions,
    progress: Progress | None = None,
    *,
    replace: bool = False,
) -> ArchiveSummary:
    """Write the tree at root as a tar, tar.gz, tar.zst or zip at dest, atomically (over an
    existing dest only with ``replace``)."""
    fmt = options.format
    try:
        with _atomic(dest, replace) as fh:
            if fmt == "zip":
                _write_zip(
                    collect(root, options.arcroot), fh, _level(options), options.mtime, progress
                )
            else:
                write_tar_stream(root, fh, options, progress)
    except OSError as exc:
        raise io_error(exc, dest, writing=True) from exc
    return ArchiveSummary(dest.stat().st_size)


__all__ = ["ArchiveSummary", "write_archive", "write_tar_stream"]
