"""The versions tests install: tests/constraints.txt, compiled from tests/requirements.in.

A fresh machine with an empty uv cache then tests exactly what the developer's machine tested;
tests/heavy and tests/windows pin their own sets."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

TESTS = Path(__file__).resolve().parent
CONSTRAINTS = TESTS / "constraints.txt"
REQUIREMENTS = TESTS / "requirements.in"
RECOMPILE = "add it to tests/requirements.in and recompile tests/constraints.txt (command there)"


def parse_pins(text: str) -> dict[str, frozenset[str]]:
    """Each name in a constraints text -> the versions it is pinned to (one per marker fork).

    Raises ValueError for a line that is not ``name==version`` with an optional marker."""
    pins: dict[str, set[str]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        specs = list(req.specifier)
        if req.url or len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            raise ValueError(f"line {number}: {line!r} is not an exact pin (name==version)")
        pins.setdefault(canonicalize_name(req.name), set()).add(specs[0].version)
    return {name: frozenset(versions) for name, versions in pins.items()}


def pins_for_python(text: str, python: str) -> dict[str, str]:
    """name -> version that a constraints text gives CPython `python` ("3.12") on Linux."""
    env = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
    }
    chosen: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            (spec,) = req.specifier
            chosen[canonicalize_name(req.name)] = spec.version
    return chosen


@functools.lru_cache(maxsize=1)
def pins() -> dict[str, frozenset[str]]:
    """The pins of tests/constraints.txt."""
    return parse_pins(CONSTRAINTS.read_text(encoding="utf-8"))


def requirement_name(spec: str) -> str:
    """The canonical distribution name of a requirement string (``numpy``, ``pyspark==4.3.0``)."""
    return canonicalize_name(Requirement(spec).name)


def unpinned(names: Iterable[str]) -> list[str]:
    """The names (requirement strings or names) that tests/constraints.txt does not pin."""
    pinned = pins()
    return sorted({n for n in map(requirement_name, names) if n not in pinned})


def frozen_names(freeze: str) -> list[str]:
    """The registry distributions in ``uv pip freeze`` output (local projects left out)."""
    names = []
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e ")) or " @ " in line:
            continue
        names.append(line)
    return names


# Options of every install: each resolution, and each isolated build, takes the pins.
PIN_ARGS = ("--constraint", str(CONSTRAINTS), "--build-constraint", str(CONSTRAINTS))
