"""One catalogue of findings: each code declared once with its severity and hint, and every
finding of the package made through it (no Finding(...) with a severity of its own)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from uv_portable.findings import CATALOGUE, Code, finding

PACKAGE = Path(__file__).resolve().parents[2] / "uv_portable"


def test_the_literal_and_the_catalogue_name_the_same_codes() -> None:
    assert sorted(get_args(Code)) == sorted(CATALOGUE)


def test_no_finding_is_made_outside_the_catalogue() -> None:
    direct = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "findings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
                direct.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert direct == []


def test_severity_and_hint_come_from_the_catalogue() -> None:
    made = finding("absolute-pth", "x.pth", "adds /abs")
    assert (made.severity, made.hint) == ("error", CATALOGUE["absolute-pth"].hint)
    assert finding("not-elf", "lib/x.so", "not ELF").severity == "error"
    assert finding("dangling-symlink", "a", "b").severity == "warning"
    assert finding("unresolved-dll", "a.pyd", "b", hint="own").hint == "own"


def test_every_code_the_package_names_is_catalogued() -> None:
    """Codes passed to finding(), self.add(), state.finding() and error() by literal."""
    used = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name not in ("finding", "add", "error") or not isinstance(first, ast.Constant):
                continue
            if isinstance(first.value, str) and "-" in first.value:
                used.add(first.value)
    assert used and used <= set(CATALOGUE), used - set(CATALOGUE)
