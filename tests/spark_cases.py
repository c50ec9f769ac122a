"""The Spark matrix as data: which pyspark versions tests/e2e/test_spark.py runs, with which
archive formats, and what each run must show. The guide's Spark table (docs/recipes.md) is
checked against the same data (tests/unit/test_spark_guide.py), so a cell can only say what
a test proved."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spark:
    """One pyspark release as the matrix runs it."""

    version: str  # exact; tests/constraints.txt pins it for `python` (one pyspark per Python)
    python: str  # the managed-style CPython of its venv and export
    hadoop: str  # the Hadoop client its jars carry (hadoop-client-api-X.jar), checked by the test

    @property
    def minor(self) -> str:
        """ "MAJOR.MINOR", as the `spark` setting takes it."""
        return ".".join(self.version.split(".")[:2])


SPARKS = (
    Spark("3.5.9", python="3.10", hadoop="3.3.4"),
    Spark("4.3.0", python="3.12", hadoop="3.5.0"),
)

# Every output suffix a user might hand to --archives: the guide's table has one column each.
FORMATS = ("tar.gz", "tgz", "zip", "tar", "tar.zst")

# Why an executor cannot start the shipped interpreter (after `Cannot run program "...": `).
NO_EXEC = ("error=13, Permission denied",)  # unpacked without exec bits
NOT_UNPACKED = ("error=20, Not a directory",)  # copied as one file, never unpacked

# (pyspark version, format) -> () when executors run the shipped interpreter, else the texts
# the failing job's error must hold.
OUTCOMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("3.5.9", "tar.gz"): (),
    ("3.5.9", "tgz"): (),
    ("3.5.9", "zip"): NO_EXEC,  # HADOOP-18145: Hadoop < 3.3.5 unzips without modes
    ("3.5.9", "tar"): NO_EXEC,  # Spark's own Java untar drops modes
    ("3.5.9", "tar.zst"): NOT_UNPACKED,
    ("4.3.0", "tar.gz"): (),
    ("4.3.0", "tgz"): (),
    ("4.3.0", "zip"): (),
    ("4.3.0", "tar"): NO_EXEC,
    ("4.3.0", "tar.zst"): NOT_UNPACKED,
}


def works(version: str, fmt: str) -> bool:
    """Whether the matrix expects executors to run the interpreter of that archive."""
    return OUTCOMES[(version, fmt)] == ()
