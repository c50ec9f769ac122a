"""Plan a Windows export: the layout of an installed CPython, with the venv's packages and
scripts merged in. Every decision is made here, before anything is written."""

from __future__ import annotations

import fnmatch
import ntpath
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from uv_portable.errors import io_error
from uv_portable.findings import finding
from uv_portable.model import Action, CopyFile, Finding, MakeDir, Plan, WriteFile
from uv_portable.plan import PlanOptions
from uv_portable.plan.scripts import relocate_activate, relocate_pth
from uv_portable.source.distributions import read_distributions
from uv_portable.source.startup import site_files
from uv_portable.windows.detect import WindowsVenv
from uv_portable.windows.dlls import resolve_imports
from uv_portable.windows.launchers import (
    INTERPRETER_EXE,
    LauncherError,
    read_launcher,
    retarget,
)
from uv_portable.windows.names import check_names

SITE = "Lib/site-packages"
# Test suites of the standard library (below Lib/), left out unless --keep-tests.
STDLIB_TESTS = ("Lib/test", "Lib/idlelib/idle_test", "Lib/tkinter/test", "Lib/unittest/test")
# Files of the base that must not come along: its own scripts (pip.exe with absolute paths),
# its site-packages (the build machine's .pth files), ._pth files (they switch `site` off).
BASE_SKIPPED = ("Scripts", SITE + "/*", "*._pth", "pyvenv.cfg")
VENV_SKIPPED = frozenset({"pyvenv.cfg", "CACHEDIR.TAG", ".gitignore", ".lock", "Scripts"})
ACTIVATE = frozenset({"activate", "activate.bat", "activate.fish", "activate.nu"})
_WIN_ABS = ("\\\\",)


@dataclass
class _State:
    """What the planner has decided so far."""

    venv: WindowsVenv
    options: PlanOptions
    files: dict[str, CopyFile | WriteFile] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)  # dest -> file whose imports count
    dirs: dict[str, MakeDir] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def excluded(self, dest: str) -> bool:
        return any(fnmatch.fnmatch(dest, p) for p in self.options.exclude)

    def add(self, action: CopyFile | WriteFile, src: Path) -> None:
        if not self.excluded(action.dest):
            self.files[action.dest] = action
            self.sources[action.dest] = src

    def add_dir(self, dest: str) -> None:
        if dest and not self.excluded(dest):
            self.dirs[dest] = MakeDir(dest)


def _walk(state: _State, src: Path, dest: str, skip: tuple[str, ...] = ()) -> None:
    """Copy a folder's regular files (symlinks as their targets' content)."""
    state.add_dir(dest)
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        target = f"{dest}/{entry.name}" if dest else entry.name
        if any(fnmatch.fnmatch(target, p) for p in skip):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            _walk(state, path, target, skip)
        elif entry.is_file():
            state.add(CopyFile(path.resolve() if entry.is_symlink() else path, target), path)
        else:
            state.findings.append(
                finding("special-file", str(path), "not a regular file; left out")
            )


def _plan_base(state: _State) -> None:
    tests = () if state.options.keep_tests else STDLIB_TESTS
    _walk(state, state.venv.source.base.prefix, "", (*BASE_SKIPPED, *tests))
    state.add_dir(SITE)
    state.add_dir("Scripts")


def _root_binaries(state: _State) -> list[str]:
    """Names of the interpreter files at the base's root (exe and DLLs), lowercased."""
    prefix = state.venv.source.base.prefix
    return sorted(p.name.lower() for p in prefix.iterdir() if p.suffix.lower() in (".exe", ".dll"))


def _plan_venv(state: _State) -> None:
    venv = state.venv.source.path
    for entry in sorted(os.scandir(venv), key=lambda e: e.name):
        if entry.name in VENV_SKIPPED:
            continue
        if entry.is_dir():
            _walk(state, Path(entry.path), entry.name)
        elif entry.is_file():
            state.add(CopyFile(Path(entry.path), entry.name), Path(entry.path))
    _plan_pth(state)


def _relative_entry(state: _State, entry: str) -> str | None:
    """A .pth entry naming the venv or base where they were built, relative to site-packages
    (both became the export's root), or None for a path outside them."""
    norm = ntpath.normpath(entry)
    for build in sorted(state.venv.build_paths, key=len, reverse=True):
        if norm.lower() == build.lower() or norm.lower().startswith(build.lower() + "\\"):
            rest = norm[len(build) :].lstrip("\\")
            return ntpath.relpath("X:\\" + rest, "X:\\Lib\\site-packages")
    return None


def _plan_pth(state: _State) -> None:
    site = state.venv.source.path / "Lib" / "site-packages"
    findings, pths = site_files(site, SITE)
    state.findings += findings
    for pth, text in pths:
        new, outside = relocate_pth(
            text,
            lambda e: ntpath.isabs(e) or e.startswith(_WIN_ABS),
            lambda e: _relative_entry(state, e),
        )
        for entry in outside:
            state.findings.append(
                finding(
                    "absolute-pth", str(pth), f"adds {entry} (outside the environment) to sys.path"
                )
            )
        if new is not None:
            mode = stat.S_IMODE(pth.stat().st_mode)
            data = new.encode("utf-8", errors="surrogateescape")
            dest = f"{SITE}/{pth.name}"
            state.add(WriteFile(dest, data, mode, ".pth paths made relative", pth), pth)


def _plan_scripts(state: _State) -> None:
    scripts = state.venv.source.path / "Scripts"
    copies = set(_root_binaries(state))
    dlls = state.venv.source.base.prefix / "DLLs"
    if dlls.is_dir():
        copies |= {p.name.lower() for p in dlls.iterdir()}
    rewritten = 0
    for entry in sorted(os.scandir(scripts), key=lambda e: e.name):
        name, src = entry.name, Path(entry.path)
        dest = f"Scripts/{name}"
        if entry.is_dir():
            _walk(state, src, dest)
            continue
        low = name.lower()
        if INTERPRETER_EXE.match(low) or (state.venv.full_copy and low in copies):
            continue  # the venv launcher, or uv's copy of the base interpreter
        data = src.read_bytes()
        if low.endswith(".exe"):
            try:
                launcher = read_launcher(src, data)
                new = retarget(src, launcher, data) if launcher is not None else None
            except LauncherError as exc:
                state.findings.append(finding("unreadable-launcher", dest, str(exc)))
                continue
            if new is None:
                state.add(CopyFile(src, dest), src)
            else:
                rewritten += 1
                state.add(WriteFile(dest, new, 0o755, "launcher starts ..\\python.exe", src), src)
            continue
        text = data.decode("utf-8", errors="surrogateescape")
        if low == "activate.csh" and any(b in text for b in state.venv.build_paths):
            # csh cannot find a sourced script's own folder (uv leaves it out of relocatable
            # venvs for that reason), and there is no csh on Windows
            state.notes.append("left out Scripts\\activate.csh: it names the build's venv")
            continue
        if low in ACTIVATE:
            for build in state.venv.build_paths:
                text = relocate_activate(low, text, build) or text
        new_data = text.encode("utf-8", errors="surrogateescape")
        mode = stat.S_IMODE(entry.stat().st_mode)
        if new_data != data:
            state.add(WriteFile(dest, new_data, mode, "activate computes its location", src), src)
        else:
            state.add(CopyFile(src, dest), src)
        if any(b.lower() in text.lower() for b in state.venv.build_paths):
            state.findings.append(
                finding(
                    "build-path-in-script",
                    dest,
                    "still names the venv's or base's absolute Windows path",
                )
            )
    if rewritten:
        state.notes.append(f"pointed {rewritten} launcher(s) in Scripts\\ at ..\\python.exe")


def _plan_scripts_python(state: _State) -> None:
    """Scripts\\python.exe for people used to venvs: the interpreter and its DLLs again; it
    finds the root's Lib\\ by searching upwards, as an installed CPython does."""
    prefix = state.venv.source.base.prefix
    for name in _root_binaries(state):
        if name.startswith(("python", "vcruntime")):
            src = prefix / name
            state.add(CopyFile(src, f"Scripts/{src.name}"), src)


def make_windows_plan(venv: WindowsVenv, options: PlanOptions | None = None) -> Plan:
    """Decide every action of a Windows export; reads the source, writes nothing."""
    state = _State(venv, options or PlanOptions())
    try:
        _plan_base(state)
        _plan_venv(state)
        _plan_scripts(state)
        _plan_scripts_python(state)
        pe_files = {d: state.sources[d] for d in state.files}
        state.findings += resolve_imports(
            pe_files, state.options.allow_missing, strict=state.options.bundle
        )
    except OSError as exc:
        raise io_error(exc, exc.filename, writing=False) from exc
    state.findings += check_names([*state.files, *state.dirs])
    if venv.full_copy:
        state.notes.append(
            "the venv's Scripts\\python.exe was a copy of the interpreter (its base has no venv "
            "launcher); the export uses the base's python.exe at its root"
        )
    actions: list[Action] = [state.dirs[d] for d in sorted(state.dirs)]
    actions += [state.files[d] for d in sorted(state.files)]
    return Plan(
        source=venv.source,
        actions=tuple(actions),
        findings=tuple(state.findings),
        notes=tuple(state.notes),
        bundling=False,
        distributions=read_distributions(venv.source.path / "Lib" / "site-packages"),
    )
