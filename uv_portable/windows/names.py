"""File names that Windows cannot hold, and paths that get close to MAX_PATH."""

from __future__ import annotations

import re
from collections.abc import Iterable

from uv_portable.findings import finding
from uv_portable.model import Finding

MAX_PATH = 260
# Room left for the folder the environment is unpacked in (C:\Users\<name>\AppData\Local\...).
UNPACK_ROOM = 60
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_BAD_CHARS = re.compile(r'[<>:"|?*\x00-\x1f\\]')
_HINT = "rename or remove that file in the package, or leave it out with --exclude"


def name_problem(name: str) -> str | None:
    """Why Windows cannot hold a file with this name, or None."""
    if _RESERVED.match(name):
        return f"{name!r} is a reserved device name on Windows"
    if name.endswith((".", " ")):
        return f"{name!r} ends with a dot or a space, which Windows drops"
    bad = _BAD_CHARS.search(name)
    if bad:
        return f"{name!r} contains {bad[0]!r}, which Windows does not allow in names"
    return None


def check_names(paths: Iterable[str]) -> list[Finding]:
    """Errors for names Windows cannot hold or that collide by case; warnings near MAX_PATH."""
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    for path in sorted(paths):
        for part in path.split("/"):
            problem = name_problem(part)
            if problem is not None:
                findings.append(finding("windows-name", path, problem, hint=_HINT))
                break
        key = path.lower()
        if key in seen and seen[key] != path:
            findings.append(
                finding(
                    "case-collision",
                    path,
                    f"differs from {seen[key]} only by case; Windows keeps one of them",
                    hint=_HINT,
                )
            )
        seen.setdefault(key, path)
        if len(path) > MAX_PATH - UNPACK_ROOM:
            findings.append(
                finding(
                    "long-path",
                    path,
                    f"is {len(path)} characters long; unpacked deeper than "
                    f"{MAX_PATH - len(path) - 1} characters it passes Windows' 260-character "
                    "limit (MAX_PATH) unless long paths are enabled",
                )
            )
    return findings
