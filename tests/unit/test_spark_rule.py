"""The Spark format guard (uv_portable/publish/spark.py): the rule as a table, and the rule against
what the Spark matrix measured (tests/spark_cases.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.spark_cases import FORMATS, OUTCOMES, SPARKS, Spark, works
from uv_portable.errors import UsageError
from uv_portable.publish.formats import resolve_format
from uv_portable.publish.spark import guard_spark_format, parse_spark_version, spark_advice

NONE, WARN, REFUSE = "none", "warn", "refuse"


@pytest.mark.parametrize(
    ("spark", "fmt", "expected"),
    [
        ("3.5", "tar.gz", NONE),
        ("3.5", "dir", NONE),
        ("3.5", "zip", WARN),
        ("3.3", "zip", WARN),
        ("2.4", "zip", WARN),
        ("4.0", "zip", NONE),
        ("4.3", "zip", NONE),
        ("3.5", "tar", REFUSE),
        ("4.3", "tar", REFUSE),
        ("3.5", "tar.zst", REFUSE),
        ("4.3", "tar.zst", REFUSE),
        ("4.3", "tar.gz", NONE),
        ("10.0", "tar.gz", NONE),
    ],
)
def test_rule(spark: str, fmt: str, expected: str) -> None:
    advice = spark_advice(spark, fmt)
    got = NONE if advice is None else REFUSE if advice.refuse else WARN
    assert got == expected
    if advice is not None:
        assert "tar.gz" in advice.hint


def test_the_zip_warning_names_the_hadoop_bug() -> None:
    advice = spark_advice("3.5", "zip")
    assert advice is not None
    assert "HADOOP-18145" in advice.message and "3.3.5" in advice.message


@pytest.mark.parametrize(
    ("value", "ok"),
    [("3.5", True), ("4.10", True), ("3", False), ("3.5.1", False), ("v3.5", False), ("", False)],
)
def test_version_is_major_dot_minor(value: str, ok: bool) -> None:
    if ok:
        assert parse_spark_version(value) == tuple(int(p) for p in value.split("."))
    else:
        with pytest.raises(ValueError, match="like"):
            parse_spark_version(value)


def test_guard_refuses_warns_or_stays_quiet() -> None:
    assert guard_spark_format(None, "tar") is None  # not for Spark: no opinion
    assert guard_spark_format("4.3", "tar.gz") is None
    warning = guard_spark_format("3.5", "zip")
    assert warning is not None and warning.startswith("warning: spark = '3.5': ")
    with pytest.raises(UsageError) as err:
        guard_spark_format("3.5", "tar.zst")
    assert "does not unpack .tar.zst" in err.value.message and err.value.exit_code == 2


@pytest.mark.parametrize("spark", SPARKS, ids=lambda s: s.version)
@pytest.mark.parametrize("suffix", FORMATS)
def test_rule_agrees_with_the_matrix(spark: Spark, suffix: str) -> None:
    """Quiet exactly where the Spark matrix saw executors run the archive."""
    assert (spark.version, suffix) in OUTCOMES
    advice = spark_advice(spark.minor, resolve_format(Path(f"env.{suffix}")).name)
    assert (advice is None) == works(spark.version, suffix)
