"""Compile one batch of an export's .py files to hash-based pycs; run by the export's own
interpreter (CPython 3.9+) as ``-c`` source, never imported by uv-portable. The driver puts
``del sys.path[0]`` first, so the working folder (the export) shadows no module.

Reads NUL-separated pairs on stdin: the source's path in the export, relative to the working
folder, then the file to read it from (empty: that same path; else an identical copy elsewhere,
e.g. in the source venv while the export is still being copied). argv: ``checked`` ("0"/"1"),
then optionally a folder used as ``sys.pycache_prefix`` by the source venv's verification
imports: each plain pyc compiled from such a copy is also hard-linked where those look for it.
Prints one JSON line
per source: {"p": path, "s": status, "b": bytes written - bytes replaced, "e": error}, with
status "compiled", "converted" (a valid timestamp pyc re-headed), "kept" or "failed". A write
failure prints {"fatal": errno, "p": path, "e": strerror} and exits 2.
"""

import importlib.util
import json
import marshal
import os
import struct
import sys
import warnings

MAGIC = importlib.util.MAGIC_NUMBER
OPT_LEVELS = ("", 1, 2)  # "" is the plain pyc, always written; -O/-OO ones only when present


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
    return marshal.dumps(code)


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
        else:
            body = _compile(source, 0 if opt == "" else int(opt), rel)
            status = "compiled"
        added += _write(target, header + body) - (len(old) if old is not None else 0)
    if MIRROR and read_from != path:
        _mirror(importlib.util.cache_from_source(path), read_from)
    return status, added


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


MIRROR = sys.argv[2] if len(sys.argv) > 2 else None


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
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
