"""Re-sign edited Mach-O slices ad hoc, on any host, by re-hashing their code pages in place.

Edits that stay inside the header padding do not move the code signature or change
``codeLimit``, so the existing CodeDirectory can take the new page hashes. A CMS signature
(Developer ID) no longer matches and is replaced by the empty one of ad-hoc signatures; the
CodeDirectory is marked ad hoc. Linker-signed slices have no spare room, and need none.
Signing an unsigned slice (which would grow ``__LINKEDIT``) is not implemented: callers refuse.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSMAGIC_BLOBWRAPPER = 0xFADE0B01
CS_ADHOC = 0x2
_HASHES = {1: "sha1", 2: "sha256", 3: "sha256", 4: "sha384"}


class SignatureError(ValueError):
    """The signature cannot be rewritten in place."""


def _code_directories(sig: bytes) -> tuple[list[int], list[int]]:
    """Offsets (within sig) of the CodeDirectory blobs and of the CMS wrapper blobs."""
    magic, _length, count = struct.unpack_from(">III", sig, 0)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        raise SignatureError(f"not an embedded signature (magic {magic:#x})")
    directories, wrappers = [], []
    for i in range(count):
        _slot, offset = struct.unpack_from(">II", sig, 12 + 8 * i)
        blob_magic = struct.unpack_from(">I", sig, offset)[0]
        if blob_magic == CSMAGIC_CODEDIRECTORY:
            directories.append(offset)
        elif blob_magic == CSMAGIC_BLOBWRAPPER:
            wrappers.append(offset)
    if not directories:
        raise SignatureError("no CodeDirectory in the signature")
    return directories, wrappers


def _page_hashes(
    buf: bytes | bytearray, slice_offset: int, sig: bytes | bytearray, cd: int
) -> Iterator[tuple[slice, bytes]]:
    """For each code slot of the CodeDirectory at cd: where its hash sits in sig, and the hash
    of the page as it is in buf now."""
    (_, _, _, _, hash_offset, _, _, n_code, code_limit) = struct.unpack_from(">IIIIIIIII", sig, cd)
    hash_size, hash_type, _, page_shift = struct.unpack_from(">BBBB", sig, cd + 36)
    algorithm = _HASHES.get(hash_type)
    if algorithm is None:
        raise SignatureError(f"unknown code-directory hash type {hash_type}")
    page = 1 << page_shift if page_shift else code_limit
    for i in range(n_code):
        lo = slice_offset + i * page
        hi = slice_offset + min((i + 1) * page, code_limit)
        where = slice(cd + hash_offset + i * hash_size, cd + hash_offset + (i + 1) * hash_size)
        yield where, hashlib.new(algorithm, bytes(buf[lo:hi])).digest()[:hash_size]


def resign_slice(buf: bytearray, slice_offset: int, dataoff: int, datasize: int) -> bool:
    """Re-hash the code pages of one slice into its CodeDirectories (buf is the whole file).

    Returns True when a CMS signature was dropped (the slice is now ad hoc).
    """
    start = slice_offset + dataoff
    sig = bytearray(buf[start : start + datasize])
    directories, wrappers = _code_directories(bytes(sig))
    dropped = False
    for offset in wrappers:
        length = struct.unpack_from(">I", sig, offset + 4)[0]
        if length > 8:  # a real CMS signature: it signed the old CodeDirectory
            empty = struct.pack(">II", CSMAGIC_BLOBWRAPPER, 8)
            sig[offset : offset + length] = empty + bytes(length - 8)
            dropped = True
    for cd in directories:
        flags, code_limit = (
            struct.unpack_from(">I", sig, cd + 12)[0],
            struct.unpack_from(">I", sig, cd + 32)[0],
        )
        if code_limit != dataoff:
            raise SignatureError("the signature does not start where the code ends")
        for where, digest in list(_page_hashes(buf, slice_offset, sig, cd)):
            sig[where] = digest
        if dropped:
            struct.pack_into(">I", sig, cd + 12, flags | CS_ADHOC)
    buf[start : start + datasize] = sig
    return dropped


def signature_mismatches(buf: bytes, slice_offset: int, dataoff: int, datasize: int) -> list[str]:
    """Pages whose hash in the slice's CodeDirectories does not match (empty: valid)."""
    start = slice_offset + dataoff
    sig = bytes(buf[start : start + datasize])
    try:
        directories, _ = _code_directories(sig)
        for cd in directories:
            for index, (where, digest) in enumerate(_page_hashes(buf, slice_offset, sig, cd)):
                if sig[where] != digest:
                    return [f"page {index} does not match its signed hash"]
    except (SignatureError, struct.error) as exc:
        return [str(exc)]
    return []
