"""Read PE files (machine, imported DLLs, uv's RCDATA resources) and rewrite one resource.

The only module that touches LIEF, imported lazily so that Linux and macOS exports never load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

PE_MAGIC = b"MZ"
RT_RCDATA = 10
MACHINES = {0x8664: "x64", 0x14C: "x86", 0xAA64: "arm64", 0x1C4: "arm"}


class PeFormatError(Exception):
    """A file that should be a PE image cannot be read as one."""


@dataclass(frozen=True)
class PeInfo:
    """What the loader needs from one PE file."""

    machine: str  # "x64" | "x86" | "arm64" | "arm" | "0x..."
    imports: tuple[str, ...]  # DLL names as written (the loader compares them case-insensitively)
    delay_imports: tuple[str, ...]


@cache
def _lief() -> ModuleType:
    import lief

    lief.logging.disable()
    return lief


def is_pe(path: Path) -> bool:
    """Whether the file starts like a PE image (MZ)."""
    try:
        with path.open("rb") as fh:
            return fh.read(2) == PE_MAGIC
    except OSError:
        return False


def _parse(source: Path | bytes, name: str, imports_only: bool = False) -> Any:
    lief = _lief()
    data = source if isinstance(source, bytes) else source.read_bytes()
    config = lief.PE.ParserConfig()
    if imports_only:
        config.parse_signature = config.parse_rsrc = config.parse_reloc = False
        config.parse_exports = config.parse_exceptions = False
    binary = lief.PE.parse(data, config) if data[:2] == PE_MAGIC else None
    if binary is None:
        raise PeFormatError(f"{name} is not a readable PE image")
    return binary


def read_pe(path: Path) -> PeInfo:
    """Machine and imported DLLs of a PE file."""
    binary = _parse(path, str(path), imports_only=True)
    value = int(binary.header.machine.value)
    return PeInfo(
        machine=MACHINES.get(value, hex(value)),
        imports=tuple(str(i.name) for i in binary.imports),
        delay_imports=tuple(str(i.name) for i in binary.delay_imports),
    )


def _named_rcdata(binary: Any) -> dict[str, Any]:
    """RT_RCDATA entries that have a name -> their first data leaf."""
    out: dict[str, Any] = {}
    if not binary.has_resources:
        return out
    for kind in binary.resources.childs:
        if kind.id != RT_RCDATA:
            continue
        for entry in kind.childs:
            if not entry.has_name:
                continue
            leaf = entry
            while leaf.is_directory and len(leaf.childs):
                leaf = leaf.childs[0]
            if not leaf.is_directory:
                out[str(entry.name)] = leaf
    return out


def read_rcdata(source: Path | bytes, name: str = "") -> dict[str, bytes]:
    """The named RT_RCDATA resources of a PE file (empty when it has none)."""
    binary = _parse(source, name or str(source))
    return {key: bytes(leaf.content) for key, leaf in _named_rcdata(binary).items()}


def set_rcdata(source: Path, key: str, value: bytes) -> bytes:
    """The bytes of a PE file with one named RT_RCDATA resource replaced (sizes may change)."""
    lief = _lief()
    binary = _parse(source, str(source))
    leaves = _named_rcdata(binary)
    if key not in leaves:
        raise PeFormatError(f"{source} has no {key} resource")
    leaves[key].content = value
    config = lief.PE.Builder.config_t()
    config.resources = True
    builder = lief.PE.Builder(binary, config)
    builder.build()
    return bytes(builder.raw_bytes())
