"""The venv in the output: its files over the base's, scripts made relocatable, pyvenv.cfg
without home, .pth paths made relative, editable installs refused."""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from uv_portable import __version__
from uv_portable.binaries.elf import ELF_MAGIC
from uv_portable.binaries.macho import MACHO_MAGICS
from uv_portable.model import CopyFile, SourceEnv, WriteFile
from uv_portable.plan.scripts import (
    PYTHON_NAME,
    portable_pyvenv_cfg,
    relocate_activate,
    relocate_pth,
    rewrite_shebang,
)
from uv_portable.plan.state import PlanState
from uv_portable.plan.tree import add_entries
from uv_portable.runpath import map_into
from uv_portable.source.distributions import editable_finding
from uv_portable.source.startup import site_files

VENV_DROPPED = frozenset({"pyvenv.cfg", "CACHEDIR.TAG", ".gitignore", ".lock"})


def plan_venv(state: PlanState) -> None:
    """Every file of the venv (over the base's), its scripts, pyvenv.cfg and .pth files."""
    venv = state.source.path
    entries = sorted(os.scandir(venv), key=lambda e: e.name)
    add_entries(state, "", "venv", [e for e in entries if e.name not in VENV_DROPPED | {"bin"}])
    _plan_bin(state, venv / "bin")
    cfg = portable_pyvenv_cfg(state.source.cfg, __version__)
    state.add(WriteFile("pyvenv.cfg", cfg.encode(), 0o644, "pyvenv.cfg without home"), "venv")
    _check_site_packages(state)


def is_build_python(source: SourceEnv, interpreter: str) -> bool:
    """Whether an absolute interpreter path is the venv's Python or its base's (a Python in
    one of their bin/ folders, or a link to the base's binary); bash or perl beside the
    base's Python in /usr/bin are not."""
    base = source.base
    folder, name = posixpath.split(interpreter)
    venv_bins = {posixpath.join(str(v), "bin") for v in (source.path, source.real_path)}
    if PYTHON_NAME.match(name) and (folder in venv_bins or folder == str(base.prefix / "bin")):
        return True
    return os.path.realpath(interpreter) == str(base.executable)


def _relocated_script(state: PlanState, name: str, data: bytes) -> tuple[bytes, str] | None:
    """A script's relocatable form and why, or None when it needs no change."""
    new = rewrite_shebang(data, lambda path: is_build_python(state.source, path))
    if new is not None:
        return new, "relocatable shebang"
    text = data.decode("utf-8", errors="surrogateescape")
    for path in sorted(_build_paths(state), key=len, reverse=True):
        changed = relocate_activate(name, text, path)
        text = changed if changed is not None else text
    encoded = text.encode("utf-8", errors="surrogateescape")
    return (encoded, "activate computes its location") if encoded != data else None


def _build_paths(state: PlanState) -> set[str]:
    return {str(state.source.path), str(state.source.real_path)}


def _plan_bin(state: PlanState, bin_dir: Path) -> None:
    rewritten = 0
    dropped: list[str] = []  # activate scripts that cannot be made relocatable
    for entry in sorted(os.scandir(bin_dir), key=lambda e: e.name):
        dest = f"bin/{entry.name}"
        if PYTHON_NAME.match(entry.name):  # the venv's own interpreter links
            continue  # replaced by the copied interpreter and our symlinks
        if entry.is_symlink() or not entry.is_file():
            add_entries(state, "bin", "venv", [entry])
            continue
        src = Path(entry.path)
        with src.open("rb") as fh:
            head = fh.read(4)
        if head == ELF_MAGIC or head in MACHO_MAGICS:
            state.add_file(src, dest, "venv", entry.stat())  # a binary: analysed, not edited
            continue
        data = src.read_bytes()  # a script: small
        relocated = _relocated_script(state, entry.name, data)
        content = data if relocated is None else relocated[0]
        names_build_path = any(p.encode() in content for p in _build_paths(state))
        if names_build_path and entry.name.startswith("activate"):
            dropped.append(entry.name)  # would activate the build host's venv, or nothing
            continue
        if relocated is None:
            state.add(CopyFile(src, dest), "venv")
        else:
            rewritten += 1
            mode = stat.S_IMODE(entry.stat().st_mode)
            state.add(WriteFile(dest, content, mode, relocated[1], src), "venv")
        if names_build_path:
            state.finding(
                "build-path-in-script",
                dest,
                "still names the source venv's absolute path; it will not work elsewhere",
            )
    if dropped:
        names = ", ".join(f"bin/{name}" for name in dropped)
        state.notes.append(
            f"left out {names}: names the source venv's path and cannot find its own folder "
            "(csh cannot); source bin/activate instead, or run bin/python"
        )
    if rewritten and not state.source.relocatable:
        state.notes.append(
            f"rewrote {rewritten} script(s) in bin/ to be relocatable "
            "(the venv was not created with `uv venv --relocatable`)"
        )


def _check_site_packages(state: PlanState) -> None:
    """Refuse editable installs; make .pth paths into the environment relative."""
    site = state.source.site_packages
    dest_site = state.site_dest
    editable = False
    for dist in state.distributions:
        if dist.editable_url is not None:
            editable = True
            where = f"{dest_site}/{dist.dist_info.name}"
            state.findings.append(editable_finding(dist, where))

    def relative(entry: str) -> str | None:
        mapped = map_into(posixpath.normpath(entry), state.roots)
        return None if mapped is None else posixpath.relpath(mapped, state.out(dest_site))

    findings, pths = site_files(site, dest_site)
    state.findings += findings
    for pth, text in pths:
        new, outside = relocate_pth(text, lambda e: e.startswith("/"), relative)
        for entry in [] if editable else outside:  # an editable install says it better
            state.finding(
                "absolute-pth",
                f"{dest_site}/{pth.name}",
                f"adds {entry} (outside the environment) to sys.path",
            )
        if new is not None:
            mode = stat.S_IMODE(pth.stat().st_mode)
            reason = ".pth paths made relative"
            data = new.encode("utf-8", errors="surrogateescape")
            state.add(WriteFile(f"{dest_site}/{pth.name}", data, mode, reason, pth), "venv")
