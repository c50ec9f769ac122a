"""The guide's Spark table (docs/recipes.md) says only what the Spark matrix proved: every
cell is a tested (Spark, format) pair with the same outcome, and every tested pair has a cell."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO
from tests.spark_cases import FORMATS, OUTCOMES, SPARKS, works

GUIDE = REPO / "docs" / "recipes.md"
MARKER = "<!-- spark-table: tests/spark_cases.py -->"
_ROW = re.compile(r"(\d+\.\d+\.\d+) \(Hadoop (\d+\.\d+\.\d+)\)")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_problems(markdown: str) -> list[str]:
    """What in the marked Spark table is not backed by the matrix (empty: all of it is)."""
    if MARKER not in markdown:
        return [f"no {MARKER} before the Spark table"]
    lines = markdown.split(MARKER, 1)[1].strip().splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    if len(rows) < 3:
        return ["the Spark table has no rows"]
    header = [c.strip("`").removeprefix(".") for c in rows[0][1:]]
    hadoop = {s.version: s.hadoop for s in SPARKS}
    problems, seen = [], set()
    for row in rows[2:]:
        match = _ROW.fullmatch(row[0])
        if match is None:
            problems.append(f"row {row[0]!r}: expected 'X.Y.Z (Hadoop X.Y.Z)'")
            continue
        version, row_hadoop = match.groups()
        if hadoop.get(version, row_hadoop) != row_hadoop:
            problems.append(f"{version}: the matrix's pyspark carries Hadoop {hadoop[version]}")
        for fmt, cell in zip(header, row[1:]):
            said = "works" if cell == "works" else "fails" if cell.startswith("fails: ") else None
            if said is None:
                problems.append(f"{version} .{fmt}: {cell!r} is neither 'works' nor 'fails: why'")
            elif (version, fmt) not in OUTCOMES:
                problems.append(f"{version} .{fmt}: says {said}, but the matrix does not run it")
            elif (said == "works") != works(version, fmt):
                problems.append(f"{version} .{fmt}: says {said}, the matrix proves otherwise")
            seen.add((version, fmt))
    problems += [f"{v} .{f}: tested but not in the table" for v, f in sorted(set(OUTCOMES) - seen)]
    return problems


def test_the_guide_says_what_the_matrix_proved() -> None:
    assert table_problems(GUIDE.read_text()) == []


GOOD = f"""{MARKER}
| Spark (its Hadoop client) | `.tar.gz` | `.zip` |
|---|---|---|
| 3.5.9 (Hadoop 3.3.4) | works | fails: no exec bits |
| 4.3.0 (Hadoop 3.5.0) | works | works |
"""


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("| fails: no exec bits |", "| works |", "3.5.9 .zip: says works, the matrix proves"),
        ("| works | works |\n", "| works | fails: x |\n", "4.3.0 .zip: says fails"),
        ("3.5.9 (Hadoop 3.3.4)", "3.4.4 (Hadoop 3.3.4)", "3.4.4 .tar.gz: says works, but the"),
        ("3.5.9 (Hadoop 3.3.4)", "3.5.9 (Hadoop 3.3.6)", "carries Hadoop 3.3.4"),
        ("| fails: no exec bits |", "| maybe |", "neither 'works' nor 'fails: why'"),
        ("| 4.3.0 (Hadoop 3.5.0) | works | works |\n", "", "4.3.0 .tar.gz: tested but not"),
        (MARKER, "", "no <!-- spark-table"),
    ],
)
def test_a_cell_the_matrix_does_not_back_is_a_problem(old: str, new: str, problem: str) -> None:
    assert not [p for p in table_problems(GOOD) if "tested but not in" not in p]
    doctored = GOOD.replace(old, new)
    assert doctored != GOOD
    assert any(problem in p for p in table_problems(doctored)), table_problems(doctored)


def test_the_table_has_a_column_per_format() -> None:
    header = GUIDE.read_text().split(MARKER, 1)[1].strip().splitlines()[0]
    assert [c.strip("`").removeprefix(".") for c in _cells(header)[1:]] == list(FORMATS)
