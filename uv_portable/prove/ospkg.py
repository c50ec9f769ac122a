"""Which OS package installed a file on the build host (dpkg or rpm), for the manifest and SBOM."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from uv_portable.process import run_capture


@dataclass(frozen=True)
class OsPackage:
    """An OS package and its version, as the host's package manager names them."""

    manager: str  # "dpkg" | "rpm"
    name: str
    version: str


def _dpkg(paths: Sequence[str]) -> dict[str, OsPackage]:
    # dpkg knows a file by the path it was installed at: /usr/lib or /lib (merged /usr).
    asked: dict[str, str] = {}
    for path in paths:
        for spelling in {path, os.path.realpath(path)}:
            asked[spelling] = path
            if spelling.startswith("/usr/lib/"):
                asked[spelling[len("/usr") :]] = path
    proc = run_capture(["dpkg-query", "-S", *sorted(asked)], timeout=60)
    owners: dict[str, str] = {}
    for line in proc.stdout.splitlines() if proc else ():
        package, sep, path = line.partition(": ")
        if sep and path in asked and "," not in package and not package.startswith("diversion"):
            owners.setdefault(asked[path], package)
    if not owners:
        return {}
    names = sorted(set(owners.values()))
    proc = run_capture(
        ["dpkg-query", "-W", "-f", "${binary:Package} ${Version}\n", *names], timeout=60
    )
    versions = dict(
        line.split(" ", 1) for line in (proc.stdout.splitlines() if proc else ()) if " " in line
    )
    return {
        path: OsPackage("dpkg", pkg.split(":")[0], versions.get(pkg, ""))
        for path, pkg in owners.items()
    }


def _rpm(paths: Sequence[str]) -> dict[str, OsPackage]:
    found = {}
    for path in paths:
        proc = run_capture(
            ["rpm", "-qf", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\n", path], timeout=60
        )
        if proc and proc.returncode == 0 and " " in proc.stdout:
            name, version = proc.stdout.splitlines()[0].split(" ", 1)
            found[path] = OsPackage("rpm", name, version)
    return found


def os_packages(paths: Sequence[str]) -> dict[str, OsPackage]:
    """path -> the OS package that owns it, where the host's package manager can tell."""
    if not paths:
        return {}
    if shutil.which("dpkg-query"):
        return _dpkg(paths)
    if shutil.which("rpm"):
        return _rpm(paths)
    return {}
