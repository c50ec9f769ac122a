"""Mach-O decisions (macOS venvs, on any host): install names and load paths that point into
the base or the venv become @loader_path/@rpath; non-system dylibs found elsewhere are bundled
into lib/ (delocate does the same for wheels); system paths stay."""

from __future__ import annotations

import posixpath
from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.compat import macho_in_linux_finding
from uv_portable.binaries.macho import (
    check_rewrite,
    expand_load_path,
    is_macho,
    is_system,
    read_macho,
)
from uv_portable.errors import SourceError
from uv_portable.model import SetMachO
from uv_portable.plan.state import PlanState
from uv_portable.runpath import map_into


def plan_macos_libpython(state: PlanState) -> None:
    """Copy the libpython dylib the interpreter loads (however it names it) into lib/."""
    base = state.source.base
    exe = base.executable
    for sl in read_macho(exe):
        for load in sl.loads:
            name = posixpath.basename(load)
            if not name.startswith("libpython") or name in state.top_libs:
                continue
            candidates = [Path(expand_load_path(load, str(exe.parent), str(exe.parent)))]
            if load.startswith("@rpath/"):
                candidates = [
                    Path(expand_load_path(r, str(exe.parent), str(exe.parent)), name)
                    for r in sl.rpaths
                ]
            candidates.append(base.prefix / "lib" / name)
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise SourceError(
                    f"{exe} loads {load}, which is nowhere to be found",
                    "reinstall the base interpreter",
                )
            real = found.resolve()
            state.add_file(real, f"lib/{name}", "base", real.stat())
            state.top_libs[name] = f"lib/{name}"


def _output_target(state: PlanState, path: str) -> str | None:
    """Where an absolute source path ends up in the output (None: not shipped)."""
    mapped = map_into(path, state.roots)
    shipped = state.planned(mapped) if mapped is not None else None
    if shipped is not None:
        return shipped
    name = posixpath.basename(path)
    if name in state.top_libs and state.bundled_from.get(name) == path:
        return state.top_libs[name]
    return None


def _bundle_dylib(state: PlanState, path: str, needer: str) -> str | None:
    """Copy a non-system dylib from outside the environment into lib/ (or refuse)."""
    name = posixpath.basename(path)
    source = Path(path)
    if not (source.is_file() and is_macho(source)):
        # The source cannot load it either: the one policy tolerates it, as for ELF.
        allowed = name in state.options.allow_missing
        state.tolerate(name, [needer], "allowed" if allowed else "absent")
        return None
    dest = f"lib/{name}"
    if dest in state.files and state.bundled_from.get(name) != path:
        state.finding(
            "dylib-clash", needer, f"loads {path}, but lib/{name} is already a different file"
        )
        return None
    if dest not in state.files:
        real = source.resolve()
        state.add_file(real, dest, "bundle", real.stat())
        state.bundled.append((name, path))
        state.bundled_from[name] = path
        state.top_libs[name] = dest
    return dest


def plan_macho(state: PlanState) -> list[SetMachO]:
    """Decide the rewrites of every Mach-O file (bundled ones included), then dry-run them.

    In a Linux environment a Mach-O file is a cross-platform install gone wrong (uv#16019):
    refused, naming its distribution."""
    if state.source.base.platform == "linux":
        for dest in sorted(state.macho):
            state.findings.append(macho_in_linux_finding(dest, state.owner_of(dest)))
        return []
    edits: list[SetMachO] = []
    done: set[str] = set()
    while True:
        pending = sorted(set(state.macho) - done)
        if not pending:
            return edits
        for dest in pending:
            done.add(dest)
            edit = _plan_one(state, dest, state.macho[dest])
            if edit is not None:
                edits.append(edit)


def _plan_one(state: PlanState, dest: str, src: Path) -> SetMachO | None:
    try:
        slices = read_macho(src)
    except BinaryFormatError as exc:
        state.finding("broken-macho", dest, exc.message, hint=exc.hint)
        return None
    dest_dir = posixpath.dirname(state.out(dest))
    names: dict[str, str] = {}
    rpaths: dict[str, str] = {}
    for sl in slices:
        for load in sl.loads:
            if is_system(load) or load.startswith("@") or load in names:
                continue
            target = _output_target(state, load) or _bundle_dylib(state, load, dest)
            if target is not None:
                names[load] = f"@loader_path/{state.relative(target, dest)}"
        ident = sl.install_name
        ours = ident is not None and (
            _output_target(state, ident) is not None or dest.startswith("lib/")
        )
        if ident and ours and ident.startswith("/") and not is_system(ident):
            names[ident] = f"@rpath/{posixpath.basename(dest)}"
        for rpath in sl.rpaths:
            mapped = map_into(rpath, state.roots) if rpath.startswith("/") else None
            if mapped is not None:
                rpaths[rpath] = "@loader_path/" + posixpath.relpath(mapped, dest_dir)
    if not names and not rpaths:
        return None
    try:
        check_rewrite(src, names, rpaths)  # room in the header, signable: before any write
    except BinaryFormatError as exc:
        state.finding("macho-rewrite", dest, exc.message, hint=exc.hint)
        return None
    return SetMachO(dest, tuple(sorted(names.items())), tuple(sorted(rpaths.items())))
