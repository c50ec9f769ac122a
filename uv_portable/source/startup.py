"""Startup files of a site-packages folder: ``.pth`` and PEP 829's ``.start`` files.

From 3.15 on, ``site`` reads both as UTF-8 (a BOM allowed); a ``.pth`` that is not UTF-8 is
decoded in the locale's encoding until 3.20, a ``.start`` that is not UTF-8 is skipped whole.
A ``.start`` file lists ``pkg.mod:callable`` entry points; when ``name.start`` exists, the
``import`` lines of ``name.pth`` are not run. One reader for plan, verify and check.
"""

from __future__ import annotations

import re
from pathlib import Path

from uv_portable.findings import finding
from uv_portable.model import Finding

BOM = "\ufeff"
# pkgutil.resolve_name(strict=True): dotted module names, a colon, a dotted attribute path.
_ENTRY_POINT = re.compile(r"(?!\d)\w+(\.(?!\d)\w+)*:(?!\d)\w+(\.(?!\d)\w+)*")


def decode(data: bytes) -> str | None:
    """A startup file's text as ``site`` reads it from 3.15 on (UTF-8, a BOM dropped), or
    None when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def entry_points(text: str) -> list[str]:
    """The entry point lines of a ``.start`` file (blank lines and comments left out)."""
    lines = (line.strip() for line in text.removeprefix(BOM).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_entry_point(line: str) -> bool:
    """Whether a ``.start`` line has the ``pkg.mod:callable`` form that ``site`` accepts."""
    return _ENTRY_POINT.fullmatch(line) is not None


def startup_findings(rel: str, data: bytes) -> list[Finding]:
    """What would go wrong with one ``.pth`` or ``.start`` file at start-up on 3.15+."""
    text = decode(data)
    if rel.endswith(".pth"):
        if text is not None:
            return []
        return [
            finding(
                "pth-not-utf8",
                rel,
                "is not UTF-8: Python 3.15 and newer decode it in the target's locale "
                "encoding (deprecated; from 3.20 it is not read), so what it adds depends "
                "on the target's locale",
            )
        ]
    if text is None:
        return [
            finding(
                "start-not-utf8",
                rel,
                "is not UTF-8, so Python skips it: its entry points never run",
            )
        ]
    return [
        finding(
            "start-entry-point",
            rel,
            f"entry point {line!r} is not of the form pkg.mod:callable; Python reports it "
            "at every start and skips it",
        )
        for line in entry_points(text)
        if not is_entry_point(line)
    ]


def site_files(site: Path, dest_site: str) -> tuple[list[Finding], list[tuple[Path, str]]]:
    """A site-packages' start-up files as an export sees them: the findings of its .start and
    .pth files (at their place in the export), and each .pth with its text, to relocate."""
    findings: list[Finding] = []
    for start in sorted(site.glob("*.start")):  # PEP 829: entry points, no paths to move
        findings += startup_findings(f"{dest_site}/{start.name}", start.read_bytes())
    pths: list[tuple[Path, str]] = []
    for pth in sorted(site.glob("*.pth")):
        data = pth.read_bytes()
        findings += startup_findings(f"{dest_site}/{pth.name}", data)
        pths.append((pth, data.decode("utf-8", errors="surrogateescape")))
    return findings, pths
