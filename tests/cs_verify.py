"""An independent check that every signed Mach-O slice's CodeDirectory hashes match its pages.

Written for the tests from Apple's published format (xnu's cs_blobs.h), sharing no code with
uv_portable's signer, so that a wrong signer cannot approve its own output."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

FAT_MAGIC = 0xCAFEBABE
MH_MAGIC_64 = 0xFEEDFACF
LC_CODE_SIGNATURE = 0x1D


def _slices(data: bytes) -> list[tuple[int, int]]:
    magic = struct.unpack_from(">I", data)[0]
    if magic == FAT_MAGIC:
        count = struct.unpack_from(">I", data, 4)[0]
        out = []
        for i in range(count):
            _cpu, _sub, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * i)
            out.append((offset, size))
        return out
    return [(0, len(data))]


def signature_problems(path: Path) -> list[str]:
    """Why the file's signatures do not match its bytes (empty list: all good)."""
    data = path.read_bytes()
    problems = []
    for offset, _size in _slices(data):
        magic = struct.unpack_from("<I", data, offset)[0]
        if magic != MH_MAGIC_64:
            problems.append(f"slice at {offset}: not a 64-bit little-endian Mach-O")
            continue
        ncmds = struct.unpack_from("<I", data, offset + 16)[0]
        pos = offset + 32
        for _ in range(ncmds):
            cmd, size = struct.unpack_from("<II", data, pos)
            if cmd == LC_CODE_SIGNATURE:
                dataoff, datasize = struct.unpack_from("<II", data, pos + 8)
                problems += _check_signature(data, offset, dataoff, datasize)
            pos += size
    return problems


def _check_signature(data: bytes, base: int, dataoff: int, datasize: int) -> list[str]:
    sig = data[base + dataoff : base + dataoff + datasize]
    magic, _length, count = struct.unpack_from(">III", sig)
    if magic != 0xFADE0CC0:
        return [f"bad superblob magic {magic:#x}"]
    problems = []
    for i in range(count):
        _slot, blob = struct.unpack_from(">II", sig, 12 + 8 * i)
        if struct.unpack_from(">I", sig, blob)[0] != 0xFADE0C02:
            continue
        fields = struct.unpack_from(">IIIIIIIIIBBBB", sig, blob)
        hash_offset, n_code, code_limit = fields[4], fields[7], fields[8]
        hash_size, hash_type, page_shift = fields[9], fields[10], fields[12]
        name = {1: "sha1", 2: "sha256", 3: "sha256"}[hash_type]
        page = 1 << page_shift
        for n in range(n_code):
            chunk = data[base + n * page : base + min((n + 1) * page, code_limit)]
            want = sig[
                blob + hash_offset + n * hash_size : blob + hash_offset + (n + 1) * hash_size
            ]
            if hashlib.new(name, chunk).digest()[:hash_size] != want:
                problems.append(f"page {n} of the slice at {base} does not match its hash")
                break
    return problems
