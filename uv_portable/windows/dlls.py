"""Resolve the DLL imports of every PE file in a Windows tree, as the loader would on a clean host.

A ``.pyd``/``.dll`` finds a DLL in its own folder, in the application folder (beside
``python.exe``), in a folder its package adds with ``os.add_dll_directory`` (delvewheel's
``<pkg>.libs`` beside the package; we accept any folder of the same top-level package), or in
the system (the policy in windows_system_dlls.json).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from uv_portable.findings import finding
from uv_portable.model import Finding
from uv_portable.windows.pe import PeFormatError, read_pe

PE_SUFFIXES = (".pyd", ".dll", ".exe")
SITE = "Lib/site-packages"


@dataclass(frozen=True)
class DllPolicy:
    """Which DLLs the target system provides, and which belong to the VC++ runtime."""

    system: frozenset[str]
    patterns: tuple[str, ...]
    vc_runtime: frozenset[str]

    def is_system(self, name: str) -> bool:
        """Whether every supported Windows provides this DLL."""
        low = name.lower()
        return low in self.system or any(fnmatch.fnmatch(low, p) for p in self.patterns)


@cache
def policy() -> DllPolicy:
    """The Windows DLL policy shipped with uv-portable."""
    text = resources.files("uv_portable.windows").joinpath("windows_system_dlls.json").read_text()
    data = json.loads(text)
    return DllPolicy(
        frozenset(n.lower() for n in data["system"]),
        tuple(p.lower() for p in data["system_patterns"]),
        frozenset(n.lower() for n in data["vc_runtime"]),
    )


def _package_root(dest: str) -> str | None:
    """site-packages/<top> for files of a package (also <top>.libs -> <top>)."""
    if not dest.startswith(SITE + "/"):
        return None
    top = dest[len(SITE) + 1 :].split("/", 1)[0]
    return top.removesuffix(".libs").lower()


def is_pe_name(dest: str) -> bool:
    """Whether a file's name says it is loaded as a PE image."""
    return dest.lower().endswith(PE_SUFFIXES)


@dataclass(frozen=True)
class _Places:
    """Where a DLL is found next to a PE file: its folder, the root, `*.libs` folders, its
    package; by lower-case name."""

    folders: dict[str, set[str]]
    packages: dict[str, set[str]]
    libs: set[str]

    @classmethod
    def of(cls, files: Mapping[str, Path]) -> _Places:
        folders: dict[str, set[str]] = {}
        packages: dict[str, set[str]] = {}
        libs: set[str] = set()
        for dest in files:
            folder, name = posixpath.split(dest)
            folders.setdefault(folder.lower(), set()).add(name.lower())
            top = _package_root(dest)
            if top is not None:
                packages.setdefault(top, set()).add(name.lower())
            if folder.startswith(SITE + "/") and folder.lower().endswith(".libs"):
                libs.add(name.lower())
        return cls(folders, packages, libs)

    def beside(self, dest: str, low: str) -> bool:
        """Whether the DLL named low is where Windows looks for dest's imports."""
        here = self.folders.get(posixpath.dirname(dest).lower(), set())
        package = self.packages.get(_package_root(dest) or "", set())
        return (
            low in here
            or low in self.folders.get("", set())
            or low in self.libs
            or (low in package)
        )


def _unresolved(dest: str, name: str, delayed: bool, allowed: set[str], strict: bool) -> Finding:
    """The finding for an import found nowhere: a VC++ runtime, a tolerated one, or an error."""
    low = name.lower()
    if low in policy().vc_runtime:
        return finding(
            "vc-runtime",
            dest,
            f"needs {name} from the Visual C++ Redistributable, which is not in the environment",
            subject=name,
        )
    if low in allowed or delayed or not strict:
        why = (
            "allowed by --allow-missing"
            if low in allowed
            else "delay-loaded"
            if delayed
            else "--no-bundle: the target provides it"
        )
        return finding(
            "dll-left-to-host",
            dest,
            f"imports {name}, which is not in the environment ({why})",
            subject=name,
        )
    return finding(
        "unresolved-dll",
        dest,
        f"imports {name}, which is neither in the environment nor a Windows system DLL",
        hint=f"install the package that provides {name}, or pass --allow-missing {name} if every "
        "target has it",
        subject=name,
    )


def resolve_imports(
    files: Mapping[str, Path], allow_missing: tuple[str, ...] = (), strict: bool = True
) -> list[Finding]:
    """Findings for every PE file in ``files`` (tree path -> file to read) whose imports a
    clean Windows host cannot satisfy; ``strict=False`` (``--no-bundle``: the target provides
    what is missing) makes them warnings, as on Linux."""
    places = _Places.of(files)
    rules = policy()
    allowed = {a.lower() for a in allow_missing}
    findings: list[Finding] = []
    for dest, src in sorted(files.items()):
        if not is_pe_name(dest):
            continue
        try:
            info = read_pe(src)
        except PeFormatError:
            findings.append(finding("unreadable-pe", dest, "is not a readable PE image"))
            continue
        if info.machine != "x64":
            findings.append(
                finding(
                    "wrong-machine",
                    dest,
                    f"is a {info.machine} binary; this is a 64-bit x86 environment",
                )
            )
        for name in info.imports + info.delay_imports:
            low = name.lower()
            if places.beside(dest, low) or rules.is_system(low):
                continue
            delayed = name in info.delay_imports and name not in info.imports
            findings.append(_unresolved(dest, name, delayed, allowed, strict))
    return findings
