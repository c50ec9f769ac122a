"""What the planner knows so far, passed to every planning step: the options, the files and
folders planned, the findings, and the one mapping between source paths and output paths."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from uv_portable.binaries.elf import is_elf
from uv_portable.binaries.macho import is_macho
from uv_portable.binaries.policy import missing_finding
from uv_portable.findings import Code, finding
from uv_portable.glibc_version import GlibcVersion
from uv_portable.model import (
    Action,
    CopyFile,
    Distribution,
    Finding,
    MakeDir,
    MissingLibrary,
    MissingReason,
    SourceEnv,
)
from uv_portable.runpath import is_within
from uv_portable.settings import PlanOptions
from uv_portable.source.distributions import owners, read_distributions

# Where an output file comes from: the base interpreter, the venv, or a bundled host library.
Origin = Literal["base", "venv", "bundle"]
# The output as the planner imagines it: an absolute root to compute relative paths against.
# Only PlanState.out() and PlanState.dest_of() know it.
_OUT = "/uv-portable-out"
# Prefixes of distribution interpreters: only what is shipped is mapped, never all of /usr.
SYSTEM_PREFIXES = frozenset({"/", "/usr", "/usr/local"})


@dataclass
class PlanState:
    """The planner's state; every planning step is a function of it."""

    source: SourceEnv
    options: PlanOptions
    files: dict[str, Action] = field(default_factory=dict)
    origin: dict[str, Origin] = field(default_factory=dict)
    dirs: dict[str, MakeDir] = field(default_factory=dict)
    elf: dict[str, Path] = field(default_factory=dict)  # dest -> source file
    macho: dict[str, Path] = field(default_factory=dict)  # dest -> source file
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    roots: list[tuple[str, str]] = field(default_factory=list)  # (source dir, output dir)
    top_libs: dict[str, str] = field(default_factory=dict)  # soname -> dest in lib/
    bundled: list[tuple[str, str]] = field(default_factory=list)  # (soname, host path)
    bundled_from: dict[str, str] = field(default_factory=dict)  # dylib name -> host path
    floors: dict[str, GlibcVersion] = field(default_factory=dict)  # dest -> glibc it needs
    # dest -> (library, version) pairs it needs, e.g. ("libstdc++.so.6", "GLIBCXX_3.4.29")
    symbol_needs: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    missing: list[MissingLibrary] = field(default_factory=list)  # tolerated, not shipped
    data_gaps: list[str] = field(default_factory=list)  # data not found: the host must have it
    host_data: list[str] = field(default_factory=list)  # data left to the host by policy
    distributions: tuple[Distribution, ...] = ()
    _owners: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, source: SourceEnv, options: PlanOptions) -> PlanState:
        """The state before any decision: the roots that map source paths into the output."""
        base = source.base
        prefix = str(base.prefix).rstrip("/")
        roots = [(v, _OUT) for v in sorted({str(source.path), str(source.real_path)})]
        if str(base.prefix) in SYSTEM_PREFIXES:
            for sub in (f"lib/{base.libdir_name}", f"include/{base.libdir_name}"):
                roots.append((f"{prefix}/{sub}", f"{_OUT}/{sub}"))
        else:
            roots.append((str(base.prefix), _OUT))
        dists = read_distributions(source.site_packages)
        return cls(source, options, roots=roots, distributions=dists, _owners=owners(dists))

    # -- the one mapping between output-relative paths and the imagined output root --
    @staticmethod
    def out(dest: str) -> str:
        """An output-relative path as an absolute path under the imagined output root."""
        return f"{_OUT}/{dest}" if dest else _OUT

    @staticmethod
    def dest_of(path: str) -> str | None:
        """The output-relative path of an absolute path under the output root, else None."""
        if not is_within(path, _OUT) or path == _OUT:
            return None
        return path[len(_OUT) + 1 :]

    def planned(self, path: str) -> str | None:
        """The output-relative path of an imagined output path that the plan ships."""
        dest = self.dest_of(path)
        return dest if dest is not None and dest in self.files else None

    @property
    def site_dest(self) -> str:
        """The output-relative site-packages folder."""
        return f"lib/{self.source.base.libdir_name}/site-packages"

    def owner_of(self, dest: str) -> str:
        """The distribution that installed an output file ("" when none did)."""
        prefix = self.site_dest + "/"
        return self._owners.get(dest[len(prefix) :], "") if dest.startswith(prefix) else ""

    # -- recording decisions --
    def excluded(self, dest: str) -> bool:
        """Whether --exclude leaves this output path out."""
        return any(fnmatch.fnmatch(dest, pat) for pat in self.options.exclude)

    def add(self, action: Action, origin: Origin) -> None:
        """Plan one file (a later one for the same path replaces the earlier)."""
        dest = action.dest
        if self.excluded(dest):
            return
        if self.origin.get(dest) == "base" and origin == "venv":
            self.finding("venv-overrides-base", dest, "the venv's file replaces the base's")
        self.files[dest] = action
        self.origin[dest] = origin
        self.elf.pop(dest, None)

    def drop(self, dest: str) -> None:
        """Take a planned file out again."""
        self.files.pop(dest, None)
        self.origin.pop(dest, None)
        self.elf.pop(dest, None)
        self.macho.pop(dest, None)

    def add_dir(self, dest: str, mode: int = 0o755) -> None:
        """Plan a folder (kept even when empty)."""
        if dest and not self.excluded(dest):
            self.dirs[dest] = MakeDir(dest, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)

    def add_file(self, src: Path, dest: str, origin: Origin, st: os.stat_result) -> None:
        """Plan a copy, and remember binaries for the ELF and Mach-O steps."""
        self.add(CopyFile(src, dest), origin)
        if self.excluded(dest):
            return
        name = src.name
        if ".so" in name or ".dylib" in name or st.st_mode & 0o111 or dest.startswith("bin/"):
            if is_elf(src):
                self.elf[dest] = src
            elif is_macho(src):
                self.macho[dest] = src

    def finding(
        self, code: Code, path: str, message: str, hint: str | None = None, subject: str = ""
    ) -> None:
        """Record a finding about an output path."""
        self.findings.append(finding(code, path, message, hint, subject))

    def tolerate(self, soname: str, needers: list[str], reason: MissingReason) -> None:
        """Record a library the export does not ship, as the one policy allows."""
        missing = MissingLibrary(soname, tuple(needers), reason, self.owner_of(needers[0]))
        self.missing.append(missing)
        self.findings.append(missing_finding(missing))

    def relative(self, target_dest: str, from_dest: str) -> str:
        """The relative path from an output file's folder to another output path."""
        return posixpath.relpath(self.out(target_dest), posixpath.dirname(self.out(from_dest)))
