"""Read what matters of an ELF file: needed libraries, RUNPATH/RPATH, soname, symbol versions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from uv_portable.errors import RefusedError

ELF_MAGIC = b"\x7fELF"
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


def read_elf(path: Path) -> ElfInfo:
    """Parse one ELF file; a broken one is refused with its name."""
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            needed: list[str] = []
            runpath: tuple[str, ...] | None = None
            rpath: tuple[str, ...] | None = None
            soname: str | None = None
            is_dynamic = False
            version_needs: list[tuple[str, str]] = []
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
            )
    except (ELFError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise RefusedError(
            f"{path}: not a readable ELF file ({exc})",
            "remove or reinstall the package that ships it",
        ) from exc
