"""Compile one batch of an export's .py files to hash-based pycs; run by the export's own
interpreter (CPython 3.9+) as ``-c`` source, never imported by uv-portable. The driver puts
``del sys.path[0]`` first, so the working folder (the export) shadows no module.

Reads NUL-separated pairs on stdin: the source's path in the export, relative to the working
folder, then the file to read it from (empty: that same path; else an identical copy elsewhere,
e.g. in the source venv while the export is still being copied). argv: ``checked`` ("0"/"1"),
then a folder used as ``sys.pycache_prefix`` by the source venv's verification imports ("":
none): each plain pyc compiled from such a copy is also hard-linked where those look for it;
then the bytecode cache's folder ("": no cache, see below).
Prints one JSON line
per source: {"p": path, "s": status, "b": bytes written - bytes replaced, "e": error}, with
status "compiled", "cached" (compiled before, taken from the cache), "converted" (a valid
timestamp pyc re-headed), "kept" or "failed". A write failure in the export prints
{"fatal": errno, "p": path, "e": strerror} and exits 2; the first failure to write into the
cache prints {"cache": strerror, "p": path} and the batch goes on without storing.

The cache is content-addressed: an entry's name is the sha256 of everything a pyc's bytes
depend on (magic number, interpreter version, flags, optimization level, the name compiled
with, the source's bytes); its file is ``ENTRY_MAGIC``, the pyc's length and CRC-32, then the
pyc. An entry whose length, CRC or pyc header does not match is compiled again and replaced.
Entries appear by rename, so concurrent exports never see a partial one; a hit updates the
entry's mtime, which is what the parent's least-recently-used eviction sorts by.

A pyc must not depend on what the process compiled before it, or a pyc from the cache (made
in another process) would differ from one compiled here: marshal sets FLAG_REF from
reference counts, and a single-character string is interned or not depending on earlier
code. So every Latin-1 single character is interned up front, and each code object is
marshalled, loaded and marshalled again, which leaves FLAG_REF only on objects shared inside
the code itself.
"""

import contextlib
import hashlib
import importlib.util
import json
import marshal
import os
import struct
import sys
import warnings
import zlib

MAGIC = importlib.util.MAGIC_NUMBER
OPT_LEVELS = ("", 1, 2)  # "" is the plain pyc, always written; -O/-OO ones only when present
ENTRY_MAGIC = b"UVPYC1\0\0"
_ENTRY = struct.Struct("<8sQI")  # ENTRY_MAGIC, the pyc's length, its CRC-32
_INTERNED = [sys.intern(chr(i)) for i in range(256)]  # see the module docstring


class WriteFailed(Exception):
    """Writing into the export failed: fatal, the export is cleaned up."""


def _header(flags: int, source_hash: bytes) -> bytes:
    return MAGIC + struct.pack("<I", flags) + source_hash


def _write(target: str, data: bytes) -> int:
    """Write a NEW file over target (never through a hard link into the source venv)."""
    folder = os.path.dirname(target)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, 0o755, exist_ok=True)  # another worker may make it first
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise WriteFailed(exc) from exc
    return len(data)


def _compile(source: bytes, opt: int, name: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings of third-party code are not ours
        code = compile(source, name, "exec", dont_inherit=True, optimize=opt)
    return marshal.dumps(marshal.loads(marshal.dumps(code)))  # see the module docstring


class Cache:
    """The bytecode cache of this batch (see the module docstring)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.writable = True
        self.stored = 0  # bytes of new entries

    def entry(self, rel: str, source: bytes, flags: int, opt: int) -> str:
        """The entry's path for one pyc."""
        key = hashlib.sha256()
        for part in (MAGIC, sys.version.encode(), b"%d %d" % (flags, opt), os.fsencode(rel)):
            key.update(part + b"\0")
        key.update(source)
        name = key.hexdigest()
        return os.path.join(self.folder, name[:2], name[2:])

    def get(self, entry: str, header: bytes) -> "bytes | None":
        """The pyc stored at entry when it is whole and for this source, else None."""
        try:
            with open(entry, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        if len(data) < _ENTRY.size + 16:
            return None
        magic, length, crc = _ENTRY.unpack_from(data)
        pyc = data[_ENTRY.size :]
        if magic != ENTRY_MAGIC or length != len(pyc) or pyc[:16] != header:
            return None
        if zlib.crc32(pyc) != crc:
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)  # least recently used goes first
        return pyc

    def put(self, entry: str, pyc: bytes) -> None:
        """Store a pyc at entry (temp + rename); the first failure stops storing."""
        if not self.writable:
            return
        tmp = f"{entry}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(entry), 0o755, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(_ENTRY.pack(ENTRY_MAGIC, len(pyc), zlib.crc32(pyc)) + pyc)
            os.replace(tmp, entry)
            self.stored += _ENTRY.size + len(pyc)
        except OSError as exc:
            self.writable = False
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            sys.stdout.write(json.dumps({"cache": exc.strerror, "p": exc.filename}) + "\n")


def _one(path: str, rel: str, flags: int, read_from: str) -> tuple[str, int]:
    """Make every wanted pyc of one source valid; return (status, bytes added)."""
    with open(read_from, "rb") as fh:
        source = fh.read()
        st = os.fstat(fh.fileno())
    source_hash = importlib.util.source_hash(source)
    header = _header(flags, source_hash)
    status, added = "kept", 0
    for opt in OPT_LEVELS:
        target = importlib.util.cache_from_source(path, optimization=opt)
        try:
            with open(target, "rb") as fh:
                old = fh.read()
        except FileNotFoundError:
            old = None
        except OSError as exc:  # e.g. a file where __pycache__ must be: the output is unusable
            raise WriteFailed(exc) from exc
        if old is None and opt != "":
            continue
        if old is not None and old[:16] == header:
            continue  # already what we would write
        body = None
        if old is not None and len(old) >= 16 and old[:4] == MAGIC:
            old_flags = struct.unpack("<I", old[4:8])[0]
            if old_flags == 0:  # timestamp pyc: valid if mtime and size match, as at import
                mtime, size = struct.unpack("<II", old[8:16])
                if mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size & 0xFFFFFFFF:
                    body = old[16:]
            elif old_flags & 1 and old[8:16] == source_hash:
                body = old[16:]
        if body is not None:
            status = "converted" if status == "kept" else status
            pyc = header + body
        else:
            pyc, how = _fresh(source, header, rel, flags, 0 if opt == "" else int(opt))
            status = "compiled" if "compiled" in (how, status) else how
        added += _write(target, pyc) - (len(old) if old is not None else 0)
    if MIRROR and read_from != path:
        _mirror(importlib.util.cache_from_source(path), read_from)
    return status, added


def _fresh(source: bytes, header: bytes, rel: str, flags: int, opt: int) -> tuple[bytes, str]:
    """A new pyc for source, from the cache ("cached") or compiled ("compiled")."""
    entry = CACHE.entry(rel, source, flags, opt) if CACHE is not None else ""
    if CACHE is not None:
        pyc = CACHE.get(entry, header)
        if pyc is not None:
            return pyc, "cached"
    pyc = header + _compile(source, opt, rel)
    if CACHE is not None:
        CACHE.put(entry, pyc)
    return pyc, "compiled"


def _mirror(pyc: str, source: str) -> None:
    """Hard-link pyc where an interpreter with sys.pycache_prefix = MIRROR looks for source's
    (a hash-based pyc does not depend on the source's path: the import fixes co_filename)."""
    saved, sys.pycache_prefix = sys.pycache_prefix, MIRROR
    try:
        where = importlib.util.cache_from_source(source)
    finally:
        sys.pycache_prefix = saved
    try:
        os.makedirs(os.path.dirname(where), 0o755, exist_ok=True)
        os.link(pyc, where)
    except OSError:
        pass  # only a speed-up: those imports compile the module themselves


MIRROR = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
CACHE = Cache(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None


def main() -> int:
    """Compile the batch on stdin."""
    flags = 0b11 if sys.argv[1] == "1" else 0b01
    fields = sys.stdin.buffer.read().split(b"\0")
    out = sys.stdout
    for raw, copy in zip(fields[0::2], fields[1::2]):
        rel = os.fsdecode(raw)
        path = os.path.abspath(rel)
        try:
            status, added = _one(path, rel, flags, os.fsdecode(copy) if copy else path)
            out.write(json.dumps({"p": rel, "s": status, "b": added}) + "\n")
        except WriteFailed as exc:
            cause = exc.args[0]
            fatal = {"fatal": cause.errno, "p": cause.filename or rel, "e": cause.strerror}
            out.write(json.dumps(fatal) + "\n")
            return 2
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps({"p": rel, "s": "failed", "b": 0, "e": error}) + "\n")
    if CACHE is not None and CACHE.stored:
        out.write(json.dumps({"stored": CACHE.stored}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
