"""Set an ELF file's RUNPATH/RPATH in place, reading only its headers and tables.

patchelf reads (and copies) the whole file: a CUDA torch export peaked at 1 GB of memory, for
libtriton.so (482 MB) and the cudnn libraries. This editor works with pread/pwrite and an
append, so its memory does not grow with the file. It handles ELF64 little-endian x86_64 and
aarch64 executables and libraries, and says no (False, nothing changed) to anything else; the
caller then runs patchelf.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")  # type, flags, offset, vaddr, paddr, filesz, memsz, align
_SHDR = struct.Struct("<IIQQQQIIQQ")  # name, type, flags, addr, offset, size, link, info, ...
_DYN = struct.Struct("<qQ")  # tag, value
_SYM_NAME = struct.Struct("<I20x")  # st_name of an Elf64_Sym
_VERSIONS = {  # section type: (entry: count, [file,] aux, next; auxiliary: name, next)
    0x6FFFFFFE: (struct.Struct("<2xHIII"), struct.Struct("<8xII")),  # SHT_GNU_verneed
    0x6FFFFFFD: (struct.Struct("<6xH4xII"), struct.Struct("<II")),  # SHT_GNU_verdef
}
_MACHINES = (62, 183)  # EM_X86_64, EM_AARCH64
_PT_LOAD, _PT_DYNAMIC, _PT_NOTE, _PT_GNU_PROPERTY = 1, 2, 4, 0x6474E553
_PF_W, _PF_R = 2, 4
_SHT_STRTAB, _SHT_DYNAMIC, _SHT_DYNSYM = 3, 6, 11
_DT_NULL, _DT_STRTAB, _DT_STRSZ, _DT_RPATH, _DT_RUNPATH = 0, 5, 10, 15, 29
# The other dynamic tags whose value is a .dynstr offset: NEEDED, SONAME, AUXILIARY, FILTER,
# CONFIG, DEPAUDIT, AUDIT.
_STRING_TAGS = {1, 14, 0x7FFFFFFD, 0x7FFFFFFF, 0x6FFFFEFA, 0x6FFFFEFB, 0x6FFFFEFC}
_PAGE = 4096
_CHUNK = 1 << 20  # the most read into memory at once
_MAX_DYNAMIC = 1 << 16  # a .dynamic larger than this is not one a linker made

_Dyn = tuple[int, int]


class _Unsupported(Exception):
    """The file is not one this editor handles; nothing has been written."""


@dataclass
class _Elf:
    """What the edit needs of one file, read with a few preads."""

    fd: int
    size: int
    phoff: int
    shoff: int
    phdrs: list[list[int]]
    shdrs: list[list[int]]
    table: list[_Dyn]  # the whole PT_DYNAMIC, spare DT_NULL entries included
    used: int  # the index of the DT_NULL that ends it
    str_vaddr: int
    str_off: int
    strsz: int


@dataclass
class _Plan:
    """Every write of one edit, computed before the first one is made."""

    writes: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes), in place
    append_at: int = 0  # file offset of the new segment
    copy: tuple[int, int] = (0, 0)  # (offset, size) of the old .dynstr, the segment's prefix
    tail: bytes = b""  # the rest of the segment: new string, maybe a moved .dynamic


def edit_search_path(path: Path, entries: tuple[str, ...], *, as_rpath: bool) -> bool:
    """Set the file's DT_RUNPATH (DT_RPATH when as_rpath) to ':'.join(entries), removing the
    other of the two tags; entries == () removes both. Edits the file in place with pread/pwrite
    and an append, never reading the whole file. Returns False, having changed nothing, when it
    cannot (then the caller falls back to patchelf)."""
    value = ":".join(entries).encode("utf-8", "surrogateescape") if entries else None
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            plan = _plan(_parse(fd), value, _DT_RPATH if as_rpath else _DT_RUNPATH)
        except (_Unsupported, struct.error):
            return False
        _apply(fd, plan)  # an OSError here propagates: the caller discards the export
    finally:
        os.close(fd)
    return True


def _apply(fd: int, plan: _Plan) -> None:
    """Append the new segment (if any), then make the in-place writes."""
    source, size = plan.copy
    for done in range(0, size, _CHUNK):
        _write(fd, os.pread(fd, min(_CHUNK, size - done), source + done), plan.append_at + done)
    if plan.tail:
        _write(fd, plan.tail, plan.append_at + size)
    for offset, data in plan.writes:
        _write(fd, data, offset)


def _write(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _read(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise _Unsupported(f"truncated at {offset}")
    return data


def _round(value: int, align: int) -> int:
    return -(-value // align) * align


def _pack(entries: list[_Dyn], slots: int) -> bytes:
    """The dynamic entries, then DT_NULL up to slots."""
    padded = entries + [(_DT_NULL, 0)] * (slots - len(entries))
    return b"".join(_DYN.pack(tag, value) for tag, value in padded)


def _parse(fd: int) -> _Elf:
    """Read the headers, the program headers, the section headers and .dynamic."""
    size = os.fstat(fd).st_size
    ident, e_type, machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _ = (
        _EHDR.unpack(_read(fd, _EHDR.size, 0))
    )
    if (
        ident[:6] != b"\x7fELF\x02\x01"  # ELF64, little-endian
        or e_type not in (2, 3)  # ET_EXEC, ET_DYN
        or machine not in _MACHINES
        or phentsize != _PHDR.size
        or not 0 < phnum < 0xFFFF  # 0xFFFF: the count is elsewhere (PN_XNUM)
        or (shnum and shentsize != _SHDR.size)
        or (shoff and not shnum)  # 0 with a table: the count is elsewhere
    ):
        raise _Unsupported("not a file this editor handles")
    phdrs = [list(p) for p in _PHDR.iter_unpack(_read(fd, phnum * _PHDR.size, phoff))]
    shdrs = [list(s) for s in _SHDR.iter_unpack(_read(fd, shnum * _SHDR.size, shoff))]
    dynamics = [p for p in phdrs if p[0] == _PT_DYNAMIC]
    if len(dynamics) != 1 or not 0 < dynamics[0][5] <= _MAX_DYNAMIC:
        raise _Unsupported("not one PT_DYNAMIC")
    count = dynamics[0][5] // _DYN.size
    table: list[_Dyn] = list(_DYN.iter_unpack(_read(fd, count * _DYN.size, dynamics[0][2])))
    used = next((i for i, (tag, _) in enumerate(table) if tag == _DT_NULL), None)
    values = dict(table[:used])
    if used is None or _DT_STRTAB not in values or _DT_STRSZ not in values:
        raise _Unsupported("no DT_NULL, DT_STRTAB or DT_STRSZ")
    str_vaddr, strsz = values[_DT_STRTAB], values[_DT_STRSZ]
    for _, _, offset, vaddr, _, filesz, _, _ in (p for p in phdrs if p[0] == _PT_LOAD):
        if vaddr <= str_vaddr and str_vaddr + strsz <= vaddr + filesz and offset + filesz <= size:
            str_off = offset + str_vaddr - vaddr
            return _Elf(
                fd, size, phoff, shoff, phdrs, shdrs, table, used, str_vaddr, str_off, strsz
            )
    raise _Unsupported("DT_STRTAB is not in a PT_LOAD")


def _plan(elf: _Elf, value: bytes | None, tag: int) -> _Plan:
    """Compute the writes that set the search path to value (None: remove it)."""
    live = elf.table[: elf.used]
    dyn_off = next(p[2] for p in elf.phdrs if p[0] == _PT_DYNAMIC)
    ours = [i for i, (t, _) in enumerate(live) if t in (_DT_RPATH, _DT_RUNPATH)]
    if value is None:  # remove both tags: later entries move down, DT_NULL fills the tail
        kept = [d for i, d in enumerate(live) if i not in ours]
        return _Plan([(dyn_off, _pack(kept, elf.used + 1))] if ours else [])
    if b"\0" in value:
        raise _Unsupported("a NUL in the search path")
    keep = next((i for i in ours if live[i][0] == tag), ours[0] if ours else None)

    def rebuilt(at: int) -> list[_Dyn]:
        """live with the kept tag set to (tag, at) and the other search-path tag removed."""
        return [
            (tag, at) if i == keep else d for i, d in enumerate(live) if i == keep or i not in ours
        ]

    if keep is not None:  # in place when the new string fits where the old one is
        old_at = live[keep][1]
        old = _string(elf, old_at)
        if len(value) <= len(old) and not _shared(elf, old_at, len(old)):
            plan = _Plan()
            if value != old:
                plan.writes.append((elf.str_off + old_at, value.ljust(len(old), b"\0")))
            if rebuilt(old_at) != live:
                plan.writes.append((dyn_off, _pack(rebuilt(old_at), elf.used + 1)))
            return plan
    return _grow(elf, value, rebuilt(elf.strsz) + ([] if ours else [(tag, elf.strsz)]))


def _grow(elf: _Elf, value: bytes, entries: list[_Dyn]) -> _Plan:
    """Append a PT_LOAD holding .dynstr plus the new string (and .dynamic, when it must grow).

    The program header table has no free slot, so a PT_NOTE entry becomes the new PT_LOAD. The
    note's bytes stay in the file but are no longer a segment. The loader has no use for it
    (glibc reads CET/BTI properties from PT_GNU_PROPERTY, a separate entry, and only checks an
    ABI-tag note when there is one); what is lost is, e.g., the build-id seen through the
    program headers (core dumps), which the section headers still show.
    """
    phdrs, loads = elf.phdrs, [p for p in elf.phdrs if p[0] == _PT_LOAD]
    notes = [i for i, p in enumerate(phdrs) if p[0] == _PT_NOTE]
    if not notes:
        raise _Unsupported("no PT_NOTE to turn into a PT_LOAD")
    properties = {p[2] for p in phdrs if p[0] == _PT_GNU_PROPERTY}  # the note it duplicates
    note = next((i for i in notes if phdrs[i][2] in properties), notes[-1])  # goes first
    align = max(_PAGE, *(p[7] for p in loads))
    if align & (align - 1):
        raise _Unsupported("p_align is not a power of two")
    at = _round(elf.size, _PAGE)
    vaddr = _round(max(p[3] + p[6] for p in loads), align) + at % align  # vaddr ≡ offset
    strsz = elf.strsz + len(value) + 1
    entries = [
        (t, vaddr if t == _DT_STRTAB else strsz if t == _DT_STRSZ else v) for t, v in entries
    ]
    spare = elf.used + 1 < len(elf.table) and elf.table[elf.used + 1][0] == _DT_NULL
    dyn_ph = next(p for p in phdrs if p[0] == _PT_DYNAMIC)
    plan = _Plan(append_at=at, copy=(elf.str_off, elf.strsz), tail=value + b"\0")
    flags, moved = _PF_R, len(entries) > elf.used and not spare
    if moved:  # a copy of .dynamic with the new entry; glibc writes into .dynamic: PF_W
        dyn_at = _round(strsz, 8)
        plan.tail += bytes(dyn_at - strsz) + _pack(entries, len(entries) + 1)
        dyn_size = (len(entries) + 1) * _DYN.size
        dyn_ph[2:7] = [at + dyn_at, vaddr + dyn_at, vaddr + dyn_at, dyn_size, dyn_size]
        flags |= _PF_W
    else:  # in place, in the spare DT_NULL slot when there is a new entry
        plan.writes.append((dyn_ph[2], _pack(entries, max(elf.used, len(entries)) + 1)))
    size = elf.strsz + len(plan.tail)
    segment = phdrs.pop(note)
    segment[:] = [_PT_LOAD, flags, at, vaddr, vaddr, size, size, align]
    # PT_LOADs stay sorted by address: glibc maps the span from the first to the last one.
    phdrs.insert(max(i for i, p in enumerate(phdrs) if p[0] == _PT_LOAD) + 1, segment)
    plan.writes.append((elf.phoff, b"".join(_PHDR.pack(*p) for p in phdrs)))
    for i, sh in enumerate(elf.shdrs):  # so that readelf and pyelftools see what the loader sees
        if sh[1] == _SHT_STRTAB and sh[3] == elf.str_vaddr and sh[4] == elf.str_off:
            sh[3:6] = [vaddr, at, strsz]
        elif moved and sh[1] == _SHT_DYNAMIC:
            sh[3:6] = [dyn_ph[3], dyn_ph[2], dyn_ph[5]]
        else:
            continue
        plan.writes.append((elf.shoff + i * _SHDR.size, _SHDR.pack(*sh)))
    return plan


def _string(elf: _Elf, at: int) -> bytes:
    """The NUL-terminated string at offset at of .dynstr."""
    found = b""
    while True:
        start = at + len(found)
        if start >= elf.strsz:
            raise _Unsupported("unterminated string")
        chunk = _read(elf.fd, min(_PAGE, elf.strsz - start), elf.str_off + start)
        if b"\0" in chunk:
            return found + chunk[: chunk.index(b"\0")]
        found += chunk


def _shared(elf: _Elf, at: int, length: int) -> bool:
    """Whether another string shares bytes with the search path at offset at.

    Linkers store a string that ends another one as its tail (the symbol "sub" inside
    "$ORIGIN/sub"): overwriting the path would change it too. Without section headers the
    symbols cannot be found, so the answer is yes.
    """
    if not any(sh[1] == _SHT_DYNSYM for sh in elf.shdrs):
        return True
    start = at  # back to the first byte after the previous NUL
    while start > 0:
        chunk = _read(elf.fd, min(_PAGE, start), elf.str_off + start - min(_PAGE, start))
        nul = chunk.rfind(b"\0")
        start -= len(chunk) - nul - 1 if nul >= 0 else len(chunk)
        if nul >= 0:
            break
    return any(start <= name < at + length for name in _references(elf))


def _references(elf: _Elf) -> Iterator[int]:
    """The .dynstr offsets held by dynamic tags (but RPATH/RUNPATH), symbols and versions."""
    yield from (value for tag, value in elf.table[: elf.used] if tag in _STRING_TAGS)
    step = _SYM_NAME.size * (_CHUNK // _SYM_NAME.size)
    for _, kind, _, _, offset, size, _, _, _, _ in elf.shdrs:
        if kind == _SHT_DYNSYM:
            size -= size % _SYM_NAME.size
            for done in range(0, size, step):
                data = _read(elf.fd, min(step, size - done), offset + done)
                yield from (name for (name,) in _SYM_NAME.iter_unpack(data))
        elif kind in _VERSIONS:
            entry, aux = _VERSIONS[kind]
            data, pos, more = _read(elf.fd, min(size, _CHUNK), offset), 0, True
            while more:  # a truncated table (never seen) ends in struct.error: False
                count, *file, aux_at, next_at = entry.unpack_from(data, pos)
                yield from file
                where = pos + aux_at
                for _ in range(count):
                    name, aux_next = aux.unpack_from(data, where)
                    yield name
                    where += aux_next
                pos, more = pos + next_at, next_at != 0
