"""Frozen values that flow through the pipeline: source, plan, actions, findings."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, Union

from packaging.utils import canonicalize_name

from uv_portable.glibc_version import GlibcVersion, floor_of

Severity = Literal["error", "warning", "info"]
# Why a library is tolerated though not shipped: the user left it to the target host
# (--allow-missing), or the build host lacks it too, so the source cannot load its needer.
MissingReason = Literal["allowed", "absent"]


@dataclass(frozen=True)
class Interpreter:
    """The base CPython that a venv points at."""

    prefix: Path  # real path of the base prefix (parent of bin/)
    executable: Path  # real path of the interpreter binary
    version: tuple[int, int, int]
    implementation: str
    platform: str  # "linux" | "macos"
    libdir_name: str  # "python3.12" (or "python3.13t" for free-threaded builds)
    free_threaded: bool = False  # built with --disable-gil (sysconfig's Py_GIL_DISABLED)

    @property
    def on_host(self) -> bool:
        """Whether it is built for the platform this process runs on (so it can run here)."""
        return self.platform == ("macos" if sys.platform == "darwin" else "linux")

    @property
    def lib_dest(self) -> str:
        """Where an export keeps the standard library and site-packages, relative to its root."""
        return "Lib" if self.platform == "windows" else f"lib/{self.libdir_name}"

    @property
    def stdlib(self) -> Path:
        """The base's standard library folder."""
        return self.prefix / "lib" / self.libdir_name

    @property
    def abi_tag(self) -> str:
        """The wheel ABI tag of its extensions: cp314, or cp314t for a free-threaded build."""
        return f"cp{self.version[0]}{self.version[1]}{'t' if self.free_threaded else ''}"

    @property
    def version_str(self) -> str:
        """Full version, e.g. 3.12.1."""
        return ".".join(str(p) for p in self.version)


@dataclass(frozen=True)
class SourceEnv:
    """A virtual environment as read from disk, before any decision."""

    path: Path  # as given, absolute
    real_path: Path  # symlinks resolved
    cfg: tuple[tuple[str, str], ...]  # pyvenv.cfg key/value pairs, in order
    base: Interpreter

    @property
    def relocatable(self) -> bool:
        """Whether uv wrote ``relocatable = true`` (scripts are already relocatable)."""
        return dict(self.cfg).get("relocatable", "").lower() == "true"

    @property
    def site_packages(self) -> Path:
        """The venv's site-packages folder."""
        return self.path / "lib" / self.base.libdir_name / "site-packages"


@dataclass(frozen=True)
class Finding:
    """Something verification or planning noticed about one file."""

    severity: Severity
    code: str  # stable identifier, e.g. "abs-runpath"
    path: str  # relative to the tree it was found in (or absolute for source files)
    message: str
    hint: str = ""
    subject: str = ""  # what the finding names, for summaries: a distribution, a version


@dataclass(frozen=True)
class Distribution:
    """One ``*.dist-info`` folder, as far as an export cares."""

    name: str
    version: str
    dist_info: Path
    top_level: tuple[str, ...]  # importable top-level module names
    files: tuple[str, ...]  # RECORD paths, relative to site-packages
    editable_url: str | None  # the source folder of an editable install

    @property
    def canonical_name(self) -> str:
        """The normalised name (PEP 503), as in purls."""
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class MissingLibrary:
    """A library the export does not ship, tolerated by the policy (binaries/policy.py)."""

    soname: str
    needers: tuple[str, ...]  # tree-relative paths of the files that need it
    reason: MissingReason
    distribution: str = ""  # the distribution that ships the first needer, when known

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (manifest, --json)."""
        return {
            "soname": self.soname,
            "needed_by": list(self.needers),
            "reason": self.reason,
            "distribution": self.distribution,
        }


@dataclass(frozen=True)
class CopyFile:
    """Copy a regular file (content, mode, mtime) into the output."""

    src: Path
    dest: str


@dataclass(frozen=True)
class WriteFile:
    """Write new content (a rewritten script, pyvenv.cfg, ...)."""

    dest: str
    data: bytes
    mode: int
    reason: str
    src: Path | None = None  # the file it replaces, for mtime


@dataclass(frozen=True)
class MakeSymlink:
    """Create a relative symlink that stays inside the output."""

    dest: str
    target: str


@dataclass(frozen=True)
class MakeDir:
    """Create a directory (kept even when empty)."""

    dest: str
    mode: int = 0o755


@dataclass(frozen=True)
class SetSearchPath:
    """Rewrite an ELF file's RUNPATH/RPATH after it was copied."""

    dest: str
    entries: tuple[str, ...]
    old: tuple[str, ...]
    as_rpath: bool


@dataclass(frozen=True)
class SetMachO:
    """Rewrite a Mach-O file's load paths, install name and LC_RPATHs, then re-sign it."""

    dest: str
    names: tuple[tuple[str, str], ...]  # old -> new, for LC_ID_DYLIB and LC_LOAD_*_DYLIB
    rpaths: tuple[tuple[str, str], ...]  # old -> new LC_RPATH


Action = Union[CopyFile, WriteFile, MakeSymlink, MakeDir, SetSearchPath, SetMachO]


@dataclass(frozen=True)
class Plan:
    """Every decision of an export, made before anything is written."""

    source: SourceEnv
    actions: tuple[Action, ...]
    findings: tuple[Finding, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    bundled: tuple[tuple[str, str], ...] = field(default=())  # (soname, host path)
    glibc: tuple[tuple[str, GlibcVersion], ...] = field(default=())  # per ELF file
    bundling: bool = True  # whether libraries outside the policy were bundled
    target_glibc: GlibcVersion | None = None  # the --target-glibc the plan was checked against
    missing: tuple[MissingLibrary, ...] = field(default=())  # tolerated, not shipped
    data_gaps: tuple[str, ...] = field(default=())  # data a bundled library needs, not found
    host_data: tuple[str, ...] = field(default=())  # data the policy leaves to the target host
    distributions: tuple[Distribution, ...] = field(default=())  # of the venv's site-packages
    # The highest GLIBC_ and GLIBCXX_ symbol versions and a file that needs each:
    # (family, version, path), e.g. ("GLIBCXX", "3.4.29", "lib/python3.12/site-packages/...")
    symbol_versions: tuple[tuple[str, str, str], ...] = field(default=())

    def symbol_versions_json(self) -> dict[str, dict[str, str]]:
        """The highest symbol versions as JSON (summary, manifest)."""
        return symbol_versions_json(self.symbol_versions)

    @property
    def glibc_floor(self) -> GlibcVersion | None:
        """The oldest glibc the export can run on (the newest version any file needs)."""
        return floor_of(v for _, v in self.glibc)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that refuse the export."""
        return tuple(f for f in self.findings if f.severity == "error")

    def count(self, kind: type) -> int:
        """How many actions of one kind the plan holds."""
        return sum(1 for a in self.actions if isinstance(a, kind))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view of the plan (for ``--dry-run --json``)."""
        base = self.source.base
        actions: list[dict[str, Any]] = []
        for a in self.actions:
            if isinstance(a, CopyFile):
                actions.append({"action": "copy", "src": str(a.src), "dest": a.dest})
            elif isinstance(a, WriteFile):
                actions.append({"action": "write", "dest": a.dest, "reason": a.reason})
            elif isinstance(a, MakeSymlink):
                actions.append({"action": "symlink", "dest": a.dest, "target": a.target})
            elif isinstance(a, MakeDir):
                actions.append({"action": "mkdir", "dest": a.dest})
            elif isinstance(a, SetMachO):
                actions.append(
                    {
                        "action": "set-macho",
                        "dest": a.dest,
                        "names": dict(a.names),
                        "rpaths": dict(a.rpaths),
                    }
                )
            elif isinstance(a, SetSearchPath):
                actions.append(
                    {
                        "action": "set-rpath" if a.as_rpath else "set-runpath",
                        "dest": a.dest,
                        "old": list(a.old),
                        "new": list(a.entries),
                    }
                )
            else:
                unreachable(a)
        return {
            "source": str(self.source.path),
            "base": {
                "prefix": str(base.prefix),
                "executable": str(base.executable),
                "version": base.version_str,
                "implementation": base.implementation,
                "platform": base.platform,
            },
            "notes": list(self.notes),
            "glibc_floor": str(self.glibc_floor) if self.glibc_floor else None,
            "glibc_per_file": {d: str(v) for d, v in self.glibc},
            "symbol_versions": self.symbol_versions_json(),
            "missing_libraries": [m.to_json() for m in self.missing],
            "data_gaps": list(self.data_gaps),
            "bundled": [{"soname": s, "from": p} for s, p in self.bundled],
            "findings": [finding_json(f) for f in self.findings],
            "actions": actions,
        }


def symbol_versions_json(
    versions: tuple[tuple[str, str, str], ...],
) -> dict[str, dict[str, str]]:
    """(family, version, path) triples as {"GLIBC": {"version", "needed_by"}, ...}."""
    return {f: {"version": v, "needed_by": p} for f, v, p in versions}


def unreachable(value: NoReturn) -> NoReturn:
    """Mark a branch mypy proves unreachable (an exhaustive check over a Union)."""
    raise AssertionError(f"unexpected value {value!r}")


def finding_json(f: Finding) -> dict[str, str]:
    """A finding as a JSON object."""
    return {
        "severity": f.severity,
        "code": f.code,
        "path": f.path,
        "message": f.message,
        "hint": f.hint,
    }
