"""Which archive formats Spark unpacks with their exec bits: one rule for `export`, `build`
(the ``spark`` setting) and `check` (its note on a ``.zip``).

Measured by tests/e2e/test_spark.py (docs/recipes.md, the Spark table): executors unpack
``--archives`` themselves; Spark's own Java code drops the modes of a plain ``.tar``, does not
unpack a ``.tar.zst``, and the Hadoop client of Spark 3.x (< 3.3.5, HADOOP-18145) unzips
without modes. ``.tar.gz`` keeps them everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

from uv_portable.errors import UsageError

# What `check` says about any .zip: the file cannot tell which Spark or Hadoop will unpack it.
ZIP_NOTE = (
    "Spark 3.5 (its Hadoop client) and YARN NodeManagers with Hadoop < 3.3.5 unzip without "
    "exec bits (HADOOP-18145): bin/python fails with Permission denied there; "
    ".tar.gz keeps them everywhere"
)
_USE_TAR_GZ = "write .tar.gz (or .tgz) for Spark: every Spark unpacks it with its exec bits"
_VERSION = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class SparkAdvice:
    """What to say about an output format for a Spark version: a warning or a refusal."""

    refuse: bool
    message: str
    hint: str


def parse_spark_version(value: str) -> tuple[int, int]:
    """(major, minor) of a ``"MAJOR.MINOR"`` Spark version; ValueError for anything else."""
    match = _VERSION.fullmatch(value)
    if match is None:
        raise ValueError(f'expected a Spark version like "3.5", got {value!r}')
    return int(match[1]), int(match[2])


def spark_advice(spark: str, fmt: str) -> SparkAdvice | None:
    """The advice for writing format ``fmt`` (``tar.gz``, ``zip``, ``dir``, ...) for ``spark``;
    None when Spark unpacks it with its exec bits (or it is no archive)."""
    major, _ = parse_spark_version(spark)
    if fmt == "tar":
        message = (
            f"Spark {spark} unpacks a plain .tar without its exec bits: executors fail with "
            "Permission denied on ./environment/bin/python"
        )
        return SparkAdvice(True, message, _USE_TAR_GZ)
    if fmt == "tar.zst":
        return SparkAdvice(True, f"Spark {spark} does not unpack .tar.zst archives", _USE_TAR_GZ)
    if fmt == "zip" and major < 4:
        message = (
            f"Spark {spark}'s Hadoop client (< 3.3.5, HADOOP-18145) unzips without exec bits: "
            "executors fail with Permission denied on ./environment/bin/python"
        )
        return SparkAdvice(False, message, _USE_TAR_GZ)
    return None


def guard_spark_format(spark: str | None, fmt: str) -> str | None:
    """Raise a UsageError for a format Spark cannot run; return a warning line, or None."""
    if spark is None:
        return None
    advice = spark_advice(spark, fmt)
    if advice is None:
        return None
    if advice.refuse:
        raise UsageError(f"spark = {spark!r}: {advice.message}", advice.hint)
    return f"warning: spark = {spark!r}: {advice.message}; {advice.hint}"
