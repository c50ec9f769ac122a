"""The planner's state and its walk over the source trees; the decisions live in plan.py,
plan_elf.py and plan_macho.py, which extend it."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uv_portable.binaries.elf import is_elf
from uv_portable.binaries.libs import DEFAULT_DIRS
from uv_portable.binaries.macho import is_macho
from uv_portable.binaries.policy import missing_finding
from uv_portable.distributions import owners, read_distributions
from uv_portable.errors import OutputError
from uv_portable.glibc_version import GlibcVersion
from uv_portable.model import (
    Action,
    CopyFile,
    Finding,
    MakeDir,
    MakeSymlink,
    MissingLibrary,
    MissingReason,
    Severity,
    SourceEnv,
)
from uv_portable.runpath import map_into

# The output as the planner imagines it: an absolute root to compute relative paths against.
OUT = "/uv-portable-out"
SYSTEM_PREFIXES = frozenset({"/", "/usr", "/usr/local"})
# Library folders every glibc host searches anyway: dropping them from a RUNPATH is harmless.
DEFAULT_LIB_DIRS = frozenset(DEFAULT_DIRS)
# Test suites of the standard library (relative to lib/pythonX.Y), left out by default.
STDLIB_TEST_DIRS = (
    "test",
    "idlelib/idle_test",
    "lib2to3/tests",
    "tkinter/test",
    "unittest/test",
    "ctypes/test",
    "distutils/tests",
    "sqlite3/test",
    "tkinter/test",
)
# Runtime data of the base that the standard library loads (Tcl/Tk for tkinter).
BASE_DATA_GLOBS = ("tcl8*", "tk8*", "itcl*", "thread2*", "tcl9*", "tk9*")
VENV_DROPPED = frozenset({"pyvenv.cfg", "CACHEDIR.TAG", ".gitignore", ".lock"})
_PYTHON_NAME = re.compile(r"^python(\d(\.\d+t?)?)?$")
_ELF_HINT = "reinstall the package that ships it, or report it to uv-portable"


@dataclass(frozen=True)
class ExportOptions:
    """What the user asked for, beyond source and output."""

    keep_tests: bool = False
    keep_config: bool = False
    exclude: tuple[str, ...] = ()
    bundle: bool = True  # copy in the shared libraries the target host may lack
    allow_missing: tuple[str, ...] = ()  # sonames left to the target host (never bundled)
    target_glibc: GlibcVersion | None = None  # refuse files needing a newer glibc


def _rel(parent: str, name: str) -> str:
    return name if not parent else f"{parent}/{name}"


class PlannerBase:
    """What the planner knows so far: planned files, roots, findings."""

    def __init__(self, source: SourceEnv, options: ExportOptions) -> None:
        self.source = source
        self.options = options
        self.base = source.base
        self.files: dict[str, Action] = {}
        self.origin: dict[str, str] = {}  # dest -> "base" | "venv"
        self.dirs: dict[str, MakeDir] = {}
        self.elf: dict[str, Path] = {}  # dest -> source file
        self.macho: dict[str, Path] = {}  # dest -> source file
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        prefix = str(self.base.prefix)
        venv_roots = {str(source.path), str(source.real_path)}
        self.roots: list[tuple[str, str]] = [(v, OUT) for v in venv_roots]
        if prefix in SYSTEM_PREFIXES:
            # Map only what we ship from a distro prefix, never all of /usr.
            lib = f"lib/{self.base.libdir_name}"
            self.roots += [
                (f"{prefix.rstrip('/')}/{lib}", f"{OUT}/{lib}"),
                (
                    f"{prefix.rstrip('/')}/include/{self.base.libdir_name}",
                    f"{OUT}/include/{self.base.libdir_name}",
                ),
            ]
        else:
            self.roots.append((prefix, OUT))
        self.venv_bins = {posixpath.join(v, "bin") for v in venv_roots}
        self.top_libs: dict[str, str] = {}  # soname -> dest, for libraries shipped in lib/
        self.bundled: list[tuple[str, str]] = []  # (soname, host path) copied into lib/
        self.bundled_from: dict[str, str] = {}  # dylib name -> the path it was bundled from
        self.floors: dict[str, GlibcVersion] = {}  # dest -> newest GLIBC_x.y it needs
        self.missing: list[MissingLibrary] = []  # libraries tolerated and not shipped
        self.data_gaps: list[str] = []
        self.distributions = read_distributions(source.site_packages)
        self.owners = owners(self.distributions)
        self.site_dest = f"lib/{self.base.libdir_name}/site-packages/"

    def tolerate(self, soname: str, needers: list[str], reason: MissingReason) -> None:
        """Record a library the export does not ship, as the one policy allows."""
        missing = MissingLibrary(soname, tuple(needers), reason, self.owner_of(needers[0]))
        self.missing.append(missing)
        self.findings.append(missing_finding(missing))

    def owner_of(self, dest: str) -> str:
        """The distribution that installed an output file ("" when none did)."""
        if not dest.startswith(self.site_dest):
            return ""
        return self.owners.get(dest[len(self.site_dest) :], "")

    def excluded(self, dest: str) -> bool:
        return any(fnmatch.fnmatch(dest, pat) for pat in self.options.exclude)

    def add(self, action: Action, origin: str) -> None:
        dest = action.dest
        if self.excluded(dest):
            return
        previous = self.origin.get(dest)
        if previous == "base" and origin == "venv":
            self.finding("info", "venv-overrides-base", dest, "the venv's file replaces the base's")
        self.files[dest] = action
        self.origin[dest] = origin
        self.elf.pop(dest, None)

    def add_dir(self, dest: str, mode: int = 0o755) -> None:
        if dest and not self.excluded(dest):
            self.dirs[dest] = MakeDir(dest, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)

    def finding(
        self,
        severity: Severity,
        code: str,
        path: str,
        message: str,
        hint: str = "",
        subject: str = "",
    ) -> None:
        self.findings.append(Finding(severity, code, path, message, hint, subject))

    def add_file(self, src: Path, dest: str, origin: str, st: os.stat_result) -> None:
        self.add(CopyFile(src, dest), origin)
        if (
            ".so" in src.name
            or ".dylib" in src.name
            or st.st_mode & 0o111
            or dest.startswith("bin/")
        ):
            if is_elf(src):
                self.elf[dest] = src
            elif is_macho(src):
                self.macho[dest] = src

    def add_tree(
        self, src: Path, dest: str, origin: str, skip: Callable[[str], bool] = lambda r: False
    ) -> None:
        """Add a folder recursively; ``skip`` gets paths relative to src."""
        try:
            self.add_dir(dest, src.stat().st_mode)
            entries = sorted(os.scandir(src), key=lambda e: e.name)
        except PermissionError as exc:
            raise OutputError(
                f"cannot read {src}: permission denied", "fix its permissions or run as its owner"
            ) from exc
        self._walk(src, dest, origin, "", entries, skip)

    def _walk(
        self,
        src: Path,
        dest: str,
        origin: str,
        rel: str,
        entries: list[os.DirEntry[str]],
        skip: Callable[[str], bool],
    ) -> None:
        for entry in entries:
            entry_rel = _rel(rel, entry.name)
            if skip(entry_rel):
                continue
            path = Path(entry.path)
            target = _rel(dest, entry_rel)
            if entry.is_symlink():
                self.add_symlink(path, target, origin)
            elif entry.is_dir():
                self.add_tree(path, target, origin)  # deeper levels are never skipped
            elif entry.is_file():
                self.add_file(path, target, origin, entry.stat())
            else:
                self.finding("warning", "special-file", str(path), "not a regular file; left out")

    def add_symlink(self, link: Path, dest: str, origin: str) -> None:
        target = os.readlink(link)
        absolute = posixpath.normpath(posixpath.join(str(link.parent), target))
        mapped = map_into(absolute, self.roots)
        if mapped is not None:
            rel = posixpath.relpath(mapped, posixpath.dirname(f"{OUT}/{dest}"))
            self.add(MakeSymlink(dest, rel), origin)
            return
        real = Path(os.path.realpath(link))
        if real.is_file():
            self.add_file(real, dest, origin, real.stat())
            self.finding("info", "symlink-copied", str(link), f"points outside ({target}); copied")
        elif real.is_dir():
            self.add_tree(real, dest, origin)
            self.finding("info", "symlink-copied", str(link), f"points outside ({target}); copied")
        else:
            self.finding("warning", "dangling-symlink", str(link), f"points to missing {target}")
