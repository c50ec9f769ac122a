"""entry_points.txt: the console and GUI scripts whose targets verification imports."""

from __future__ import annotations

import pytest

from uv_portable.source.distributions import parse_entry_points


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[console_scripts]\ncowsay = cowsay.__main__:cli\n", (("cowsay", "cowsay.__main__:cli"),)),
        ("[gui_scripts]\nidle=idlelib.pyshell : main\n", (("idle", "idlelib.pyshell:main"),)),
        (
            "[console_scripts]\nx = pkg.mod:Cls.method [extra1, extra2]\n",
            (("x", "pkg.mod:Cls.method"),),
        ),
        ("[console_scripts]\n# a comment\n; another\n\n", ()),
        ("[pytest11]\nplugin = pkg.plugin\n", ()),  # not a script
        (
            "[console_scripts]\na = m:f\n[other]\nb = n:g\n[gui_scripts]\nc = o\n",
            (("a", "m:f"), ("c", "o")),
        ),
        ("", ()),
    ],
)
def test_parse_entry_points(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert parse_entry_points(text) == expected
