"""The glibc version type: parsed once, compared everywhere (plan, verify, check)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

_TARGET = re.compile(r"(?:manylinux_)?(\d+)[._](\d+)(?:_\w+)?")
# The legacy manylinux tags (PEP 513, 571, 599) and the glibc they stand for.
MANYLINUX_ALIASES = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}


class GlibcVersion(NamedTuple):
    """A glibc version such as 2.34; compares like the tuple it is."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> GlibcVersion:
        """ "2.28", "manylinux_2_28" or "manylinux2014" -> 2.28; ValueError otherwise."""
        match = _TARGET.fullmatch(MANYLINUX_ALIASES.get(text, text))
        if match is None:
            raise ValueError(f"{text!r} is not a glibc version")
        return cls(int(match[1]), int(match[2]))


def floor_of(versions: Iterable[GlibcVersion]) -> GlibcVersion | None:
    """The oldest glibc that satisfies every file: the newest one any file needs."""
    return max(versions, default=None)
