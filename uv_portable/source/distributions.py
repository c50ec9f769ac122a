"""The installed distributions of a site-packages folder: names, versions, import names, files,
and editable installs. One reader for plan, verify, check, the manifest and the SBOM."""

from __future__ import annotations

import json
import posixpath
from email.parser import HeaderParser
from pathlib import Path

from packaging.direct_url import DirectUrl, DirectUrlValidationError

from uv_portable.findings import finding
from uv_portable.model import Distribution, Finding

_IMPORTABLE_SUFFIXES = (".py", ".so", ".pyd")


def _metadata(dist_info: Path) -> tuple[str, str]:
    try:
        text = (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    headers = HeaderParser().parsestr(text, headersonly=True)
    stem = dist_info.name[: -len(".dist-info")]
    fallback_name, _, fallback_version = stem.partition("-")
    return str(headers.get("Name") or fallback_name), str(
        headers.get("Version") or fallback_version
    )


def _record(dist_info: Path) -> tuple[str, ...]:
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    # A RECORD line is CSV, but only paths with commas are quoted: rare enough to take apart
    # by hand, and the csv module would cost start-up time for every export.
    paths = []
    for line in text.splitlines():
        quoted = line.startswith('"')
        path = line[1:].split('",', 1)[0] if quoted else line.rsplit(",", 2)[0]
        if path:
            paths.append(path)
    return tuple(paths)


def _top_level(dist_info: Path, files: tuple[str, ...]) -> tuple[str, ...]:
    names: set[str] = set()
    top = dist_info / "top_level.txt"
    if top.is_file():
        text = top.read_text(encoding="utf-8", errors="replace")
        names.update(n.strip().replace("/", ".") for n in text.splitlines())
    else:
        for path in files:
            first = path.split("/", 1)
            head = first[0]
            if head.startswith("..") or head.endswith((".dist-info", ".data", ".pth")):
                continue
            if len(first) > 1 and first[1].endswith(_IMPORTABLE_SUFFIXES):
                names.add(head)
            elif len(first) == 1 and head.endswith(_IMPORTABLE_SUFFIXES):
                names.add(head.split(".", 1)[0])
    return tuple(sorted(n for n in names if n and n.isidentifier() and n != "__pycache__"))


def editable_url(dist_info: Path) -> str | None:
    """The source folder of an editable install (PEP 660 direct_url.json), else None."""
    try:
        data = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
        direct = DirectUrl.from_dict(data)
    except (OSError, ValueError, TypeError, DirectUrlValidationError):
        return None
    if direct.dir_info is None or not direct.dir_info.editable:
        return None
    return direct.url.removeprefix("file://")


def read_distributions(site: Path) -> tuple[Distribution, ...]:
    """Every distribution installed in a site-packages folder, sorted by name."""
    found = []
    for dist_info in sorted(site.glob("*.dist-info")):
        if not dist_info.is_dir():
            continue
        name, version = _metadata(dist_info)
        files = _record(dist_info)
        found.append(
            Distribution(
                name=name,
                version=version,
                dist_info=dist_info,
                top_level=_top_level(dist_info, files),
                files=files,
                editable_url=editable_url(dist_info),
            )
        )
    return tuple(sorted(found, key=lambda d: d.canonical_name))


def importable_modules(dists: tuple[Distribution, ...]) -> tuple[str, ...]:
    """The top-level module names of all distributions, sorted and unique."""
    return tuple(sorted({m for d in dists for m in d.top_level}))


def parse_entry_points(text: str) -> tuple[tuple[str, str], ...]:
    """``entry_points.txt`` -> (script name, ``module:attr``) of its console and GUI scripts."""
    found: list[tuple[str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        name, eq, value = line.partition("=")
        if eq and section in ("console_scripts", "gui_scripts"):
            target = value.split("[", 1)[0].strip().replace(" ", "")  # drop `[extras]`
            if target:
                found.append((name.strip(), target))
    return tuple(found)


def entry_points(dist: Distribution) -> tuple[tuple[str, str], ...]:
    """A distribution's console and GUI scripts: (script name, ``module:attr``)."""
    try:
        text = (dist.dist_info / "entry_points.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return parse_entry_points(text)


def entry_point_targets(dists: tuple[Distribution, ...]) -> tuple[str, ...]:
    """The ``module:attr`` targets of every console and GUI script, sorted and unique."""
    return tuple(sorted({target for d in dists for _, target in entry_points(d)}))


def module_owners(dists: tuple[Distribution, ...]) -> dict[str, str]:
    """Top-level module name -> the name of the distribution that installs it."""
    return {module: d.name for d in dists for module in d.top_level}


def owners(dists: tuple[Distribution, ...]) -> dict[str, str]:
    """site-packages-relative file path -> the name of the distribution that installed it."""
    owned: dict[str, str] = {}
    for dist in dists:
        for path in dist.files:
            owned[posixpath.normpath(path)] = dist.name
    return owned


def editable_finding(dist: Distribution, where: str) -> Finding:
    """The refusal of an editable install (plan and check word it the same)."""
    return finding(
        "editable",
        where,
        f"{dist.name} is an editable install of {dist.editable_url}",
        subject=dist.name,
    )
