"""Read what matters of an ELF file: needed libraries, RUNPATH/RPATH, soname, symbol versions."""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from uv_portable.binaries import BinaryFormatError

ELF_MAGIC = b"\x7fELF"
SO_NAME = re.compile(r"\.so(\.\d+)*$")  # a file named like a shared library
# pyelftools exposes the string of these dynamic tags under these attribute names.
_STRING_TAGS = {
    "DT_NEEDED": "needed",
    "DT_RUNPATH": "runpath",
    "DT_RPATH": "rpath",
    "DT_SONAME": "soname",
}


@dataclass(frozen=True)
class ElfInfo:
    """The dynamic-linking facts of one ELF file."""

    elf_class: int  # 32 or 64
    machine: str  # e.g. "EM_X86_64"
    is_dynamic: bool  # has a dynamic section at all
    soname: str | None
    needed: tuple[str, ...]
    runpath: tuple[str, ...] | None  # DT_RUNPATH entries, None when absent
    rpath: tuple[str, ...] | None  # DT_RPATH entries, None when absent
    # (library file name, version name) pairs, e.g. ("libc.so.6", "GLIBC_2.34")
    version_needs: tuple[tuple[str, str], ...]
    exec_stack: bool = False  # a PT_GNU_STACK program header with PF_X: executable stack

    @property
    def search_path(self) -> tuple[str, ...]:
        """The entries the loader searches: RUNPATH if present, else RPATH."""
        if self.runpath is not None:
            return self.runpath
        return self.rpath or ()


def is_elf(path: Path) -> bool:
    """True when the file starts with the ELF magic."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def _split(value: str) -> tuple[str, ...]:
    return tuple(entry for entry in value.split(":") if entry)


_MACHINES = {
    3: "EM_386",
    8: "EM_MIPS",
    20: "EM_PPC",
    21: "EM_PPC64",
    22: "EM_S390",
    40: "EM_ARM",
    62: "EM_X86_64",
    183: "EM_AARCH64",
    243: "EM_RISCV",
}
_SHT_DYNAMIC, _SHT_VERNEED = 6, 0x6FFFFFFE
PT_GNU_STACK, PF_X = 0x6474E551, 1
_DT_TAGS = {1: "DT_NEEDED", 14: "DT_SONAME", 15: "DT_RPATH", 29: "DT_RUNPATH"}


def _cstr(table: bytes, offset: int) -> str:
    end = table.index(b"\0", offset)
    return table[offset:end].decode("utf-8", errors="surrogateescape")


def _exec_stack(data: bytes, is64: bool, end: str) -> bool:
    """Whether a PT_GNU_STACK program header asks for an executable stack."""
    if is64:
        (phoff,) = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
        flags_at = 4  # p_type, p_flags, ...
    else:
        (phoff,) = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
        flags_at = 24  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + flags_at + 4 > len(data):
            break
        (kind,) = struct.unpack_from(end + "I", data, at)
        if kind == PT_GNU_STACK:
            (flags,) = struct.unpack_from(end + "I", data, at + flags_at)
            return bool(flags & PF_X)
    return False


def _read_fast(data: bytes) -> ElfInfo | None:
    """Read the section table with struct: 3.4x faster than pyelftools (bench/elf_reader.py).

    Returns None for files it does not handle (no section table); pyelftools reads those.
    """
    if len(data) < 64 or data[:4] != ELF_MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if is64:
        (shoff,) = struct.unpack_from(end + "Q", data, 40)
        shentsize, shnum, _ = struct.unpack_from(end + "HHH", data, 58)
        header = struct.Struct(end + "IIQQQQIIQQ")
        dyn = struct.Struct(end + "qQ")
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 32)
        shentsize, shnum, _ = struct.unpack_from(end + "HHH", data, 46)
        header = struct.Struct(end + "IIIIIIIIII")
        dyn = struct.Struct(end + "iI")
    if shnum == 0 or shentsize < header.size or shoff + shnum * shentsize > len(data):
        return None
    sections = [header.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]

    def body(index: int) -> bytes:
        sh = sections[index]
        return data[sh[4] : sh[4] + sh[5]]

    needed: list[str] = []
    values: dict[str, str] = {}
    version_needs: list[tuple[str, str]] = []
    is_dynamic = False
    for sh in sections:
        kind, offset, size, link, info = sh[1], sh[4], sh[5], sh[6], sh[7]
        if kind == _SHT_DYNAMIC:
            is_dynamic = True
            strings = body(link)
            for pos in range(offset, offset + size - dyn.size + 1, dyn.size):
                tag, value = dyn.unpack_from(data, pos)
                if tag == 0:
                    break
                name = _DT_TAGS.get(tag)
                if name == "DT_NEEDED":
                    needed.append(_cstr(strings, value))
                elif name is not None:
                    values[name] = _cstr(strings, value)
        elif kind == _SHT_VERNEED:
            strings = body(link)
            pos = offset
            for _ in range(info):
                _, count, file_off, aux, nxt = struct.unpack_from(end + "HHIII", data, pos)
                lib = _cstr(strings, file_off)
                apos = pos + aux
                for _ in range(count):
                    _, _, _, name_off, anext = struct.unpack_from(end + "IHHII", data, apos)
                    version_needs.append((lib, _cstr(strings, name_off)))
                    if anext == 0:
                        break
                    apos += anext
                if nxt == 0:
                    break
                pos += nxt
    return ElfInfo(
        elf_class=64 if is64 else 32,
        machine=_MACHINES.get(machine, f"EM_{machine}"),
        is_dynamic=is_dynamic,
        soname=values.get("DT_SONAME"),
        needed=tuple(needed),
        runpath=_split(values["DT_RUNPATH"]) if "DT_RUNPATH" in values else None,
        rpath=_split(values["DT_RPATH"]) if "DT_RPATH" in values else None,
        version_needs=tuple(version_needs),
        exec_stack=_exec_stack(data, is64, end),
    )


def read_elf(path: Path) -> ElfInfo:
    """Parse one ELF file; a broken one is refused with its name."""
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            fast = _read_fast(mm)  # type: ignore[arg-type]
    except (OSError, ValueError, struct.error, IndexError):
        fast = None  # empty, truncated or odd: let pyelftools judge it
    if fast is not None:
        return fast
    return read_elf_pyelftools(path)


def read_elf_pyelftools(path: Path) -> ElfInfo:
    """Parse one ELF file with pyelftools (the reference reader, and the fallback)."""
    # Imported here: pyelftools takes 0.1-0.2 s to import, and the fast reader rarely needs it.
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            needed: list[str] = []
            runpath: tuple[str, ...] | None = None
            rpath: tuple[str, ...] | None = None
            soname: str | None = None
            is_dynamic = False
            version_needs: list[tuple[str, str]] = []
            exec_stack = any(
                seg["p_type"] == "PT_GNU_STACK" and seg["p_flags"] & PF_X
                for seg in elf.iter_segments()
            )
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    is_dynamic = True
                    for tag in section.iter_tags():
                        kind = tag.entry.d_tag
                        if kind not in _STRING_TAGS:
                            continue
                        value = str(getattr(tag, _STRING_TAGS[kind]))
                        if kind == "DT_NEEDED":
                            needed.append(value)
                        elif kind == "DT_RUNPATH":
                            runpath = _split(value)
                        elif kind == "DT_RPATH":
                            rpath = _split(value)
                        else:
                            soname = value
                elif isinstance(section, GNUVerNeedSection):
                    for verneed, auxiliaries in section.iter_versions():
                        for aux in auxiliaries:
                            version_needs.append((str(verneed.name), str(aux.name)))
            return ElfInfo(
                elf_class=elf.elfclass,
                machine=str(elf["e_machine"]),
                is_dynamic=is_dynamic,
                soname=soname,
                needed=tuple(needed),
                runpath=runpath,
                rpath=rpath,
                version_needs=tuple(version_needs),
                exec_stack=exec_stack,
            )
    except (ELFError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise BinaryFormatError(
            f"{path}: not a readable ELF file ({exc})",
            "remove or reinstall the package that ships it",
        ) from exc
