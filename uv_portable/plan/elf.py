"""ELF decisions: RUNPATH relocation, the shared-library closure and the glibc floor."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.compat import (
    Arch,
    arch_finding,
    compatible,
    exec_stack_finding,
)
from uv_portable.binaries.elf import SO_NAME, ElfInfo, read_elf
from uv_portable.binaries.libs import (
    DEFAULT_DIRS,
    resolve_on_host,
    same_file,
    search_dirs,
    tree_closure,
)
from uv_portable.binaries.policy import find_library_data, library_data
from uv_portable.glibc_version import GlibcVersion
from uv_portable.model import CopyFile, SetSearchPath
from uv_portable.plan.state import PlanState
from uv_portable.plan.tree import add_tree
from uv_portable.prove.glibc import needed_glibc, too_new
from uv_portable.runpath import Relocated, expand_origin, map_into, origin_relative, relocate

_ELF_HINT = "reinstall the package that ships it, or report it to uv-portable"
# Library folders every glibc host searches anyway: dropping them from a RUNPATH is harmless.
_DEFAULT_LIB_DIRS = frozenset(DEFAULT_DIRS)
Infos = dict[str, tuple[Path, ElfInfo]]  # dest -> (source file, its ELF facts)


def read(path: Path) -> ElfInfo:
    """The ELF facts of a file."""
    return read_elf(path)


def find_base_library(state: PlanState, soname: str, info: ElfInfo) -> Path | None:
    """Where the interpreter's loader finds soname (its libpython), or None."""
    base = state.source.base
    found = resolve_on_host(
        soname,
        search_dirs(info, str(base.executable.parent)),
        extra_default=(str(base.prefix / "lib"), "/usr/local/lib"),
        accept=_accept(Arch.of(info), None),
    )
    return Path(found).resolve() if found else None


def _check_so_names(state: PlanState) -> None:
    """A file named like a shared library that is not ELF cannot be loaded: refuse it."""
    for dest, action in state.files.items():
        if (
            isinstance(action, CopyFile)
            and SO_NAME.search(dest)
            and dest not in state.elf
            and dest not in state.macho
            and not action.src.is_symlink()
            and action.src.stat().st_size > 0
        ):
            with action.src.open("rb") as fh:
                head = fh.read(4)
            if head != b"\x7fELF" and not head.startswith((b"/*", b"GROUP", b"INPUT")):
                state.finding(
                    "not-elf",
                    dest,
                    f"is named like a shared library but is not an ELF file ({action.src})",
                )


def _relocated(state: PlanState, dest: str, src: Path, info: ElfInfo) -> Relocated:
    base = state.source.base
    src_dir = str(src.parent if src != base.executable else src.resolve().parent)
    dest_dir = posixpath.dirname(state.out(dest))
    return relocate(info.search_path, src_dir=src_dir, dest_dir=dest_dir, roots=state.roots)


def _as_relocated(state: PlanState, dest: str, src: Path, info: ElfInfo) -> ElfInfo:
    """The file's ELF facts with the search path it will have in the output."""
    entries = _relocated(state, dest, src, info).entries
    if info.runpath is not None:
        return replace(info, runpath=entries)
    if info.rpath is not None:
        return replace(info, rpath=entries)
    return info


def _interpreter_arch(state: PlanState) -> Arch | None:
    """The ELF class and machine of a Linux base interpreter (None for other platforms)."""
    base = state.source.base
    return Arch.of(read(base.executable)) if base.platform == "linux" else None


def _analyse(state: PlanState) -> Infos:
    """Read every ELF of the output, refuse those built for another machine, and bundle,
    transitively, the libraries that the loader would not find inside it (nor on every
    host, per the policy)."""
    infos: Infos = {}
    want = _interpreter_arch(state)
    for dest, src in sorted(state.elf.items()):
        try:
            info = read(src)
        except BinaryFormatError as exc:
            state.finding("broken-elf", dest, exc.message, hint=_ELF_HINT)
            continue
        if want is not None:
            wrong = arch_finding(dest, info, want, state.owner_of(dest))
            if wrong is not None:
                state.findings.append(wrong)
                continue  # its needs are another machine's: nothing to resolve here
        if info.exec_stack:
            state.findings.append(exec_stack_finding(dest, state.owner_of(dest)))
        if info.is_dynamic:
            infos[dest] = (src, info)
    if not state.options.bundle:
        return infos
    settled: set[str] = set()  # sonames bundled, mapped or reported
    while True:
        objects = {
            state.out(dest): _as_relocated(state, dest, src, info)
            for dest, (src, info) in infos.items()
        }
        closure = tree_closure(objects, lambda p: state.planned(p) is not None, state.out(""))
        pending = sorted(
            (s, p)
            for s, p in closure.unresolved.items()
            if s not in state.top_libs and s not in settled
        )
        if not pending:
            return infos
        for soname, needers in pending:
            settled.add(soname)
            dests = [d for d in (state.dest_of(n) for n in needers) if d is not None]
            _bundle(state, soname, dests, infos)


def _bundle(state: PlanState, soname: str, needers: list[str], infos: Infos) -> None:
    """Find soname as the loader would for each file that needs it; copy it into lib/.

    Two files that find two different libraries under one soname cannot share lib/:
    refused (auditwheel renames with a hash; that changes what the files load).
    """
    if soname in state.options.allow_missing:
        state.tolerate(soname, needers, "allowed")
        return
    base_lib = str(state.source.base.prefix / "lib")
    found_by: list[tuple[str, str]] = []  # (needer, host path)
    for needer in needers:
        src, info = infos[needer]
        dirs = search_dirs(info, str(src.parent))
        # Only a file of the needer's class and machine, and one that needs no newer glibc
        # than the target's when one is given; failing that, any of the right machine (the
        # glibc floor then refuses it, naming lib/<soname>).
        hit = resolve_on_host(
            soname, dirs, (base_lib,), _accept(Arch.of(info), state.options.target_glibc)
        )
        if hit is None and state.options.target_glibc is not None:
            hit = resolve_on_host(soname, dirs, (base_lib,), _accept(Arch.of(info), None))
        if hit is not None:
            found_by.append((needer, hit))
    if not found_by:
        # The source cannot load these files either: an optional part (numba's TBB pool).
        state.tolerate(soname, needers, "absent")
        return
    first_needer, first = found_by[0]
    for other_needer, other in found_by[1:]:
        if not same_file(Path(first), Path(other)):
            state.finding(
                "soname-clash",
                other_needer,
                f"needs {soname} from {other}, but {first_needer} needs a different "
                f"{soname} from {first}",
            )
            return
    real = Path(first).resolve()
    mapped = map_into(first, state.roots)
    shipped = state.planned(mapped) if mapped is not None else None
    if shipped is not None:
        state.top_libs[soname] = shipped
        return
    lib_dest = f"lib/{soname}"
    existing = state.files.get(lib_dest)
    if existing is not None:
        have = existing.src if isinstance(existing, CopyFile) else None
        if have is None or not same_file(have, real):
            state.finding(
                "soname-clash",
                first_needer,
                f"needs {soname} from {first}, but lib/{soname} in the "
                f"environment is a different file ({have})",
            )
            return
    else:
        state.add_file(real, lib_dest, "bundle", real.stat())
        state.bundled.append((soname, first))
        infos[lib_dest] = (real, read(real))
        _bundle_data(state, soname, real)
    state.top_libs[soname] = lib_dest


def _accept(want: Arch, max_glibc: GlibcVersion | None) -> Callable[[str], bool]:
    """A library lookup filter: ELF files of that architecture (and glibc), nothing else."""

    def accept(path: str) -> bool:
        try:
            return compatible(read(Path(path)), want, max_glibc)
        except (BinaryFormatError, OSError):
            return False

    return accept


def _bundle_data(state: PlanState, soname: str, library: Path) -> None:
    """Bundle the data folder a bundled library reads (Tcl's init.tcl) as lib/<folder>,
    where the library also looks relative to the interpreter."""
    spec = library_data(soname)
    if spec is not None and spec.host_data:
        state.host_data.append(spec.host_data)
        return
    if spec is None or f"lib/{spec.folder}" in state.dirs:
        return
    folder = find_library_data(spec, library)
    if folder is None:
        state.data_gaps.append(
            f"{soname} is bundled, but its data folder {spec.folder} ({spec.marker}) was "
            "not found on the build host: the target host must provide it"
        )
        return
    add_tree(state, folder, f"lib/{spec.folder}", "bundle")


def plan_elf(state: PlanState) -> list[SetSearchPath]:
    """Bundle what the ELF files need, and decide their new search paths."""
    _check_so_names(state)
    infos = _analyse(state)
    patches = []
    for dest, (src, info) in sorted(infos.items()):
        floor = needed_glibc(info)
        if floor is not None:
            state.floors[dest] = floor
        state.symbol_needs[dest] = info.version_needs
        dest_dir = posixpath.dirname(state.out(dest))
        old = info.search_path
        result = _relocated(state, dest, src, info)
        entries = list(result.entries)
        for entry in result.dropped:
            known = posixpath.normpath(entry) in _DEFAULT_LIB_DIRS
            state.finding(
                "system-runpath-dropped" if known else "runpath-dropped",
                dest,
                f"search-path entry {entry} is outside the environment; dropped",
            )
        reachable = {expand_origin(e, dest_dir) for e in entries}
        for soname in info.needed:
            shipped = state.top_libs.get(soname)
            if shipped is None or shipped == dest:
                continue
            folder = posixpath.dirname(state.out(shipped))
            if folder not in reachable:
                entries.append(origin_relative(folder, dest_dir))
                reachable.add(folder)
        if tuple(entries) != old:
            # A file without RUNPATH keeps (or gets) an RPATH: with a RUNPATH it would stop
            # searching its loaders' RPATHs, which wheels' vendored libraries rely on.
            patches.append(SetSearchPath(dest, tuple(entries), old, info.runpath is None))
    if state.options.target_glibc is not None:
        state.findings += too_new(state.floors, state.options.target_glibc)
    return patches
