"""The one policy for shared libraries an export does not ship, used by plan, verify and check.

The data (host_policy.json) says which libraries every target host provides, by group, and
which bundled libraries need a data folder. A library that is neither shipped nor provided is
tolerated (a warning) only when the source cannot load it either, or when the user leaves it
to the target (--allow-missing); anything else is an error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from uv_portable.findings import finding
from uv_portable.model import Finding, MissingLibrary


@lru_cache(maxsize=1)
def _policy() -> dict[str, Any]:
    text = resources.files("uv_portable.binaries").joinpath("host_policy.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def _groups() -> dict[str, str]:
    """soname -> the group of host-provided libraries it belongs to."""
    return {
        str(name): group for group, spec in _policy()["groups"].items() for name in spec["sonames"]
    }


def host_group(soname: str) -> str | None:
    """The policy group ("glibc", "graphics", "gpu-driver", ...) that provides soname, if any."""
    return _groups().get(soname)


def is_system_library(soname: str) -> bool:
    """Whether the policy says every target host provides this library (never bundled)."""
    return soname in _groups()


def host_requirement(soname: str, module: str) -> str | None:
    """What a module needs from the target host ("tkinter needs libX11.so.6 from the host")."""
    group = host_group(soname)
    if group is None:
        return None
    note = str(_policy()["groups"][group]["note"])
    return note.format(soname=soname, module=module) if note else None


@dataclass(frozen=True)
class LibraryData:
    """The data a library reads at run time: a folder to bundle (Tcl's script library), or
    data left to the target host (ncurses' terminfo), said in ``host_data``."""

    folder: str = ""  # bundled as lib/<folder>
    marker: str = ""  # a file that shows a candidate folder is the right one
    search: tuple[str, ...] = ()
    host_data: str = ""  # what the target host must provide, with {soname}


def library_data(soname: str) -> LibraryData | None:
    """The data policy of a library, or None when it needs none."""
    spec = _policy()["library_data"].get(soname)
    if not isinstance(spec, dict):
        return None
    if "host_data" in spec:
        return LibraryData(host_data=str(spec["host_data"]).format(soname=soname))
    return LibraryData(str(spec["folder"]), str(spec["marker"]), tuple(spec["search"]))


def find_library_data(spec: LibraryData, library: Path) -> Path | None:
    """Where the build host keeps the data folder of a library found at ``library``."""
    for template in spec.search:
        folder = Path(template.replace("{libdir}", str(library.parent))) / spec.folder
        if (folder / spec.marker).is_file():
            return Path(os.path.realpath(folder))
    return None


def missing_finding(missing: MissingLibrary) -> Finding:
    """The warning for a tolerated missing library: the file, its distribution, what to do."""
    needer = missing.needers[0]
    soname = missing.soname
    if missing.reason == "allowed":
        return finding(
            "library-left-to-host",
            needer,
            f"needs {soname}, left to the target host (--allow-missing)",
            hint=f"make sure every target host has {soname}",
            subject=soname,
        )
    owner = f" ({missing.distribution})" if missing.distribution else ""
    return finding(
        "optional-library-absent",
        needer,
        f"needs {soname}, which the build host lacks too{owner}: the source cannot load "
        "this file either, so it is shipped as it is",
        hint=f"install {soname} on the target if you need it; "
        f"--allow-missing {soname} leaves it to the host without this warning",
        subject=soname,
    )


def unresolved_finding(soname: str, needer: str, *, exporting: bool) -> Finding:
    """The error for a library neither shipped, provided by every host, nor tolerated."""
    hint = (
        "this is a bug in uv-portable's bundling, please report it; pass "
        f"--allow-missing {soname} if the target host provides it"
        if exporting
        else "re-export with uv-portable, which bundles it into lib/, or export with "
        f"--allow-missing {soname} if the target host provides it"
    )
    return finding(
        "unresolved-library",
        needer,
        f"needs {soname}, which is neither in the tree nor provided by every host",
        hint=hint,
        subject=soname,
    )
