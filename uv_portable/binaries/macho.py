"""Read and rewrite Mach-O load commands (macholib), thin and fat, and re-sign what changed."""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from macholib import mach_o
from macholib.MachO import MachO

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.codesign import SignatureError, resign_slice, signature_mismatches

MACHO_MAGICS = frozenset(
    {
        b"\xfe\xed\xfa\xce",
        b"\xce\xfa\xed\xfe",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
        b"\xbe\xba\xfe\xca",
    }
)
LOAD_COMMANDS = frozenset(
    {
        mach_o.LC_LOAD_DYLIB,
        mach_o.LC_LOAD_WEAK_DYLIB,
        mach_o.LC_REEXPORT_DYLIB,
        mach_o.LC_LAZY_LOAD_DYLIB,
        mach_o.LC_LOAD_UPWARD_DYLIB,
    }
)
SYSTEM_PREFIXES = ("/usr/lib/", "/System/Library/", "/System/iOSSupport/")
_CPU = {0x0100000C: "arm64", 0x01000007: "x86_64"}  # CPU_TYPE_ARM64, CPU_TYPE_X86_64
_HINT = "rebuild it with -headerpad_max_install_names, or report the wheel to its authors"


@dataclass(frozen=True)
class MachOSlice:
    """The linking facts of one architecture of a Mach-O file."""

    arch: str
    install_name: str | None
    loads: tuple[str, ...]
    rpaths: tuple[str, ...]


def is_macho(path: Path) -> bool:
    """True when the file starts with a Mach-O (or fat) magic."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) in MACHO_MAGICS
    except OSError:
        return False


def is_system(name: str) -> bool:
    """Paths every macOS provides (the shared cache), never rewritten."""
    return name.startswith(SYSTEM_PREFIXES)


def _text(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", errors="surrogateescape")


def _load(path: Path) -> MachO:
    try:
        return MachO(str(path))
    except (ValueError, struct.error, KeyError, OSError) as exc:
        raise BinaryFormatError(f"{path}: not a readable Mach-O file ({exc})", _HINT) from exc


def read_macho(path: Path) -> tuple[MachOSlice, ...]:
    """Every slice of a Mach-O file; unknown CPU types are refused."""
    slices = []
    for header in _load(path).headers:
        cpu = header.header.cputype
        if cpu not in _CPU:
            raise BinaryFormatError(
                f"{path}: unknown Mach-O CPU type {cpu:#x}",
                "uv-portable handles arm64 and x86_64 binaries",
            )
        install_name = None
        loads, rpaths = [], []
        for lc, _cmd, data in header.commands:
            if lc.cmd == mach_o.LC_ID_DYLIB:
                install_name = _text(data)
            elif lc.cmd in LOAD_COMMANDS:
                loads.append(_text(data))
            elif lc.cmd == mach_o.LC_RPATH:
                rpaths.append(_text(data))
        slices.append(MachOSlice(_CPU[cpu], install_name, tuple(loads), tuple(rpaths)))
    return tuple(slices)


def _apply(
    macho: MachO, path: Path, names: Mapping[str, str], rpaths: Mapping[str, str]
) -> list[int]:
    """Rewrite load commands in memory; return the indexes of the headers that changed."""
    changed = []
    for index, header in enumerate(macho.headers):
        dirty = False
        for idx, (lc, _cmd, data) in enumerate(header.commands):
            if lc.cmd == mach_o.LC_RPATH:
                table: Mapping[str, str] = rpaths
            elif lc.cmd in LOAD_COMMANDS or lc.cmd == mach_o.LC_ID_DYLIB:
                table = names
            else:
                continue
            old = _text(data)
            new = table.get(old)
            if new is not None and new != old:
                header.rewriteDataForCommand(idx, new.encode())
                dirty = True
        if dirty:
            try:
                header.synchronize_size()
            except ValueError as exc:
                raise BinaryFormatError(
                    f"{path}: no room in the Mach-O header for the longer load commands", _HINT
                ) from exc
            arch = _CPU.get(header.header.cputype, "?")
            signed = any(lc.cmd == mach_o.LC_CODE_SIGNATURE for lc, _, _ in header.commands)
            if not signed and arch == "arm64":
                raise BinaryFormatError(
                    f"{path}: the arm64 slice is unsigned; signing it is not implemented",
                    "run the export on macOS after `codesign --force --sign -`, or report it",
                )
            changed.append(index)
    return changed


def check_rewrite(path: Path, names: Mapping[str, str], rpaths: Mapping[str, str]) -> None:
    """Dry run of rewrite_macho: refuse (before anything is written) what cannot be done."""
    _apply(_load(path), path, names, rpaths)


def rewrite_macho(path: Path, names: Mapping[str, str], rpaths: Mapping[str, str]) -> list[str]:
    """Rewrite install names / load paths (names) and LC_RPATHs (rpaths) of every slice, then
    re-sign each changed, signed slice ad hoc. Returns "arch:resigned" notes per slice."""
    macho = _load(path)
    changed = _apply(macho, path, names, rpaths)
    if not changed:
        return []
    with path.open("r+b") as fh:
        macho.write(fh)
    buf = bytearray(path.read_bytes())
    notes = []
    for index in changed:
        header = macho.headers[index]
        for lc, cmd, _data in header.commands:
            if lc.cmd == mach_o.LC_CODE_SIGNATURE:
                try:
                    dropped = resign_slice(buf, header.offset, cmd.dataoff, cmd.datasize)
                except (SignatureError, struct.error) as exc:
                    raise BinaryFormatError(f"{path}: cannot re-sign: {exc}", _HINT) from exc
                arch = _CPU.get(header.header.cputype, "?")
                notes.append(f"{arch}:{'ad hoc (signature dropped)' if dropped else 're-hashed'}")
    path.write_bytes(bytes(buf))
    return notes


def expand_load_path(path: str, loader_dir: str, executable_dir: str) -> str:
    """Resolve @loader_path / @executable_path against folders (other paths: normalised)."""
    if path.startswith("@loader_path"):
        path = loader_dir + path[len("@loader_path") :]
    elif path.startswith("@executable_path"):
        path = executable_dir + path[len("@executable_path") :]
    return posixpath.normpath(path)


def verify_signatures(path: Path) -> list[str]:
    """For every signed slice, whether its code pages still match the signature."""
    macho = _load(path)
    data = path.read_bytes()
    problems = []
    for header in macho.headers:
        for lc, cmd, _data in header.commands:
            if lc.cmd == mach_o.LC_CODE_SIGNATURE:
                arch = _CPU.get(header.header.cputype, "?")
                for problem in signature_mismatches(data, header.offset, cmd.dataoff, cmd.datasize):
                    problems.append(f"{arch}: {problem}")
    return problems
