"""The base interpreter in the output: the real binary, its libpython, the standard library,
the headers, and the run-time data the standard library needs."""

from __future__ import annotations

import fnmatch
import stat
from pathlib import Path

from uv_portable.errors import SourceError
from uv_portable.model import CopyFile, MakeSymlink, WriteFile
from uv_portable.plan.elf import find_base_library, read
from uv_portable.plan.macho import plan_macos_libpython
from uv_portable.plan.scripts import relocate_sysconfigdata, sysconfig_prefix
from uv_portable.plan.state import SYSTEM_PREFIXES, PlanState
from uv_portable.plan.tree import add_tree

# Test suites of the standard library (relative to lib/pythonX.Y), left out by default.
STDLIB_TEST_DIRS = frozenset(
    {
        "test",
        "idlelib/idle_test",
        "lib2to3/tests",
        "tkinter/test",
        "unittest/test",
        "ctypes/test",
        "distutils/tests",
        "sqlite3/test",
    }
)
# Runtime data of the base that the standard library loads (Tcl/Tk for tkinter).
BASE_DATA_GLOBS = ("tcl8*", "tk8*", "itcl*", "thread2*", "tcl9*", "tk9*")
_DIST_PACKAGES_PTH = (
    "import os, site, sys; "
    "site.addsitedir(os.path.join(sys.prefix, 'lib', '{lib}', 'site-packages'))\n"
)
# From 3.15 on, PEP 829's form of the same hook: .pth import lines are deprecated (and
# ignored from 3.18), a .start file names an entry point that site calls at start-up.
_DIST_PACKAGES_MODULE = (
    '"""Added by uv-portable: the distribution\'s site.py reads dist-packages only."""\n\n\n'
    "def add_site_packages():\n"
    "    import os, site, sys\n\n"
    "    site.addsitedir(os.path.join(sys.prefix, 'lib', '{lib}', 'site-packages'))\n"
)
_DIST_PACKAGES_START = "_uv_portable_site:add_site_packages\n"


def plan_base(state: PlanState) -> None:
    """The interpreter binary, python/python3 links, libpython and the standard library."""
    base = state.source.base
    name = base.libdir_name
    state.add_dir("bin")
    state.add_dir("lib")
    state.add_file(base.executable, f"bin/{name}", "base", base.executable.stat())
    for alias in ("python", "python3"):
        if alias != name:
            state.add(MakeSymlink(f"bin/{alias}", name), "base")
    if base.platform == "macos":
        plan_macos_libpython(state)
    else:
        _plan_linux_libpython(state)
    _plan_stdlib(state)


def _plan_linux_libpython(state: PlanState) -> None:
    """Copy the libpython the interpreter needs (if it is a shared build) into lib/."""
    base = state.source.base
    exe_info = read(base.executable)
    for soname in exe_info.needed:
        if soname.startswith("libpython"):
            found = find_base_library(state, soname, exe_info)
            if found is None:
                raise SourceError(
                    f"{base.executable} needs {soname}, which is nowhere to be found",
                    "reinstall the base interpreter",
                )
            state.add_file(found, f"lib/{soname}", "base", found.stat())
            state.top_libs[soname] = f"lib/{soname}"


def _plan_stdlib(state: PlanState) -> None:
    """The standard library, headers, and the run-time data it needs."""
    base = state.source.base
    name = base.libdir_name
    tests = frozenset() if state.options.keep_tests else STDLIB_TEST_DIRS

    def skip_stdlib(rel: str) -> bool:
        if rel in ("site-packages", "dist-packages") or rel in tests:
            return True
        return rel.startswith("__pycache__/_sysconfigdata")

    add_tree(state, base.stdlib, f"lib/{name}", "base", skip_stdlib)
    if not state.options.keep_config:
        # sysconfig names config-*/ (Makefile, Setup, config.c): keep it, but not the
        # static libpython, which only embedding needs and which weighs tens of MB.
        for dest in [d for d in state.files if fnmatch.fnmatch(d, f"lib/{name}/config-*/*.a")]:
            state.drop(dest)
    distro = str(base.prefix) in SYSTEM_PREFIXES
    if not distro:  # a distro's /usr values stay true
        _relocate_sysconfigdata(state)
    if _patched_for_dist_packages(base.stdlib / "site.py"):
        # Debian's site.py looks in dist-packages, never in site-packages, unless it runs in
        # a venv: point it at the venv's packages (their .pth files included).
        state.add_dir(f"lib/{name}/dist-packages")
        hook = {"_uv_portable_site.pth": _DIST_PACKAGES_PTH}
        if base.version[:2] >= (3, 15):
            hook = {
                "_uv_portable_site.py": _DIST_PACKAGES_MODULE,
                "_uv_portable_site.start": _DIST_PACKAGES_START,
            }
        for file_name, text in hook.items():
            state.add(
                WriteFile(
                    f"lib/{name}/dist-packages/{file_name}",
                    text.format(lib=name).encode(),
                    0o644,
                    "the distribution's site.py reads dist-packages",
                ),
                "base",
            )
    include = base.prefix / "include" / name
    if include.is_dir():
        add_tree(state, include, f"include/{name}", "base")
    if not distro:
        for pattern in BASE_DATA_GLOBS:
            for data in sorted((base.prefix / "lib").glob(pattern)):
                if data.is_dir():
                    add_tree(state, data, f"lib/{data.name}", "base")
        terminfo = base.prefix / "share" / "terminfo"
        if terminfo.is_dir():
            add_tree(state, terminfo, "share/terminfo", "base")


def _patched_for_dist_packages(site_py: Path) -> bool:
    """Whether a base's site.py is a distribution's (Debian/Ubuntu), which reads
    dist-packages instead of site-packages outside a venv."""
    try:
        return "dist-packages" in site_py.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _relocate_sysconfigdata(state: PlanState) -> None:
    """Make _sysconfigdata map the build prefix to the run-time prefix."""
    lib = f"lib/{state.source.base.libdir_name}/_sysconfigdata"
    for dest, action in list(state.files.items()):
        if not (dest.startswith(lib) and dest.endswith(".py") and isinstance(action, CopyFile)):
            continue
        text = action.src.read_text(encoding="utf-8")
        prefix = sysconfig_prefix(text)
        new = relocate_sysconfigdata(text, prefix) if prefix else None
        if new is not None:
            mode = stat.S_IMODE(action.src.stat().st_mode)
            reason = "build prefix -> run-time prefix"
            state.add(WriteFile(dest, new.encode(), mode, reason, action.src), "base")
