"""tests/constraints.txt pins every package the tests install (issue 23): exact versions, for
every Python the tests use, each Spark of the matrix on its Python, and no install that
bypasses the pins."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import MINORS, REPO
from tests.pins import (
    CONSTRAINTS,
    REQUIREMENTS,
    frozen_names,
    parse_pins,
    pins,
    pins_for_python,
    requirement_name,
    unpinned,
)
from tests.spark_cases import SPARKS, Spark

# They pin their own sets by exact version: the heavy sets, Windows wheels, and the 3.14/3.15
# venvs made inside a Debian sid root by sid's own uv (their pins agree with this file's).
OWN_PINS = ("tests/heavy", "tests/windows", "tests/e2e/test_newest.py")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("six==1.17.0\n", {"six": {"1.17.0"}}),
        ("# header\n\nSix==1.17.0  # comment\n", {"six": {"1.17.0"}}),
        (
            "numpy==2.0.2 ; python_full_version < '3.10'\nnumpy==2.2.6 ; python_version >= '3.10'",
            {"numpy": {"2.0.2", "2.2.6"}},
        ),
        ("typing_extensions==4.16.0", {"typing-extensions": {"4.16.0"}}),
    ],
)
def test_parse_pins(text: str, expected: dict[str, set[str]]) -> None:
    assert parse_pins(text) == expected


@pytest.mark.parametrize(
    "line", ["numpy", "numpy>=2", "numpy==2.*", "numpy==2,<3", "x @ https://example.org/x.whl"]
)
def test_anything_but_an_exact_pin_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_pins(line)


def test_freeze_lines_of_local_projects_are_left_out() -> None:
    freeze = "cowsay==6.1\n-e file:///tmp/mylib\nuv-portable @ file:///work\nsix==1.17.0\n"
    assert frozen_names(freeze) == ["cowsay==6.1", "six==1.17.0"]
    assert unpinned(["cowsay==6.1", "Six", "no-such-package-here"]) == ["no-such-package-here"]


def test_the_constraints_file_pins_every_requirement_for_every_python() -> None:
    text = CONSTRAINTS.read_text()
    assert pins()  # parses: exact pins only
    requirements = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    names = {requirement_name(r) for r in requirements if r}
    assert unpinned(names) == []
    for minor in MINORS:
        chosen = pins_for_python(text, minor)
        for name in names - {"pyspark"}:
            assert name in chosen, f"{name} has no pin for Python {minor}"


@pytest.mark.parametrize("spark", SPARKS, ids=lambda s: s.version)
def test_each_spark_of_the_matrix_is_pinned_for_its_python(spark: Spark) -> None:
    chosen = pins_for_python(CONSTRAINTS.read_text(), spark.python)
    assert chosen["pyspark"] == spark.version
    assert "py4j" in chosen and "numpy" in chosen


def _test_sources() -> list[Path]:
    files = [*(REPO / "tests").rglob("*.py"), *(REPO / "bench").glob("*.py")]
    own = tuple(REPO / d for d in OWN_PINS)
    return [f for f in files if not any(f.is_relative_to(o) for o in own)]


def test_no_install_bypasses_the_pins() -> None:
    """Every `uv pip install` of the tests goes through tests/helpers.py's pip_install."""
    install = re.compile(r"""["']pip["'],\s*["']install["']|pip install""")
    offenders = [
        str(f.relative_to(REPO))
        for f in _test_sources()
        if f.name not in ("helpers.py", "test_pins.py") and install.search(f.read_text())
    ]
    assert offenders == []


def _literal_packages(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, requirement) of the string literals that make_venv/pip_install calls install."""
    constants = {
        t.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        position = {"make_venv": 2, "pip_install": 1}.get(node.func.id)
        if position is None or len(node.args) <= position:
            continue
        arg = node.args[position]
        if isinstance(arg, ast.Name):
            arg = constants.get(arg.id, arg)
        if isinstance(arg, (ast.List, ast.Tuple)):
            found += [
                (node.lineno, e.value)
                for e in arg.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
    return found


def test_every_package_a_test_names_is_pinned() -> None:
    named = {
        (str(f.relative_to(REPO)), line, spec)
        for f in _test_sources()
        for line, spec in _literal_packages(ast.parse(f.read_text()))
    }
    assert {spec for _, _, spec in named} >= {"cowsay", "numpy", "pillow"}  # the scan sees them
    assert [n for n in named if unpinned([n[2]])] == []


def test_the_newest_pythons_pins_agree_with_the_constraints() -> None:
    """tests/e2e/test_newest.py installs its own exact pins inside a sid root; where the
    constraints file pins the same name for Python 3.14, the versions are the same."""
    from tests.e2e.test_newest import PACKAGES

    chosen = pins_for_python(CONSTRAINTS.read_text(), "3.14")
    own = dict(p.split("==") for p in PACKAGES)
    shared = {name for name in own if name in chosen}
    assert shared >= {"numpy", "cryptography", "pydantic"}
    assert {n: own[n] for n in shared} == {n: chosen[n] for n in shared}
