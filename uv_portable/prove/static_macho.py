"""Static verification of Mach-O files (macOS exports, checked on any host): load paths that
resolve inside the tree, and code signatures that match their pages."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.macho import expand_load_path, is_system, read_macho, verify_signatures
from uv_portable.findings import Code, finding
from uv_portable.model import Finding
from uv_portable.runpath import is_within


def macho_findings(rel: str, path: Path, top: str) -> list[Finding]:
    """Load paths must resolve inside the tree; signatures must match the pages."""
    findings: list[Finding] = []

    def add(code: Code, message: str, hint: str | None = None) -> None:
        findings.append(finding(code, rel, message, hint))

    try:
        slices = read_macho(path)
    except BinaryFormatError as exc:
        add("broken-macho", exc.message)
        return findings
    origin, exe_dir = str(path.parent), f"{top}/bin"
    for sl in slices:
        for load in sl.loads:
            if is_system(load):
                continue
            if load.startswith("/"):
                add("abs-load-path", f"{sl.arch} loads {load}")
            elif load.startswith(("@loader_path", "@executable_path")):
                target = expand_load_path(load, origin, exe_dir)
                if not (is_within(target, top) and os.path.isfile(target)):
                    add(
                        "unresolved-dylib",
                        f"{sl.arch} loads {load}, which is not in the tree",
                    )
            elif load.startswith("@rpath/"):
                found = any(
                    os.path.isfile(
                        posixpath.join(expand_load_path(r, origin, exe_dir), load[len("@rpath/") :])
                    )
                    for r in sl.rpaths
                )
                if not found:
                    add(
                        "unresolved-rpath",
                        f"{sl.arch} loads {load}; no LC_RPATH of the file finds it "
                        "(its loader's may)",
                    )
        ident = sl.install_name
        if ident and ident.startswith("/") and not is_system(ident):
            add(
                "abs-install-name",
                f"install name {ident} is absolute (harmless unless something links against it)",
            )
        for rpath in sl.rpaths:
            if rpath.startswith("/"):
                add(
                    "abs-rpath",
                    f"LC_RPATH {rpath} points outside the tree and never resolves there",
                )
    for problem in verify_signatures(path):
        add(
            "bad-signature",
            f"code signature does not match: {problem}",
        )
    return findings
