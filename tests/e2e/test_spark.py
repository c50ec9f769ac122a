"""PySpark end to end, a matrix of pinned Spark versions x archive formats
(tests/spark_cases.py, the data the guide's Spark table is checked against): executors run the
interpreter shipped with `--archives env.<format>#alias` while every Python of the host is
hidden (an unshare mount namespace), or fail where the matrix says they do; venv-pack's
archive of the same venv fails there.

One spark-submit per Spark version ships every archive: the first job runs the .tar.gz as
users do (`spark.pyspark.python=./environment/bin/python`); each further job points the
context's worker interpreter (``sc.pythonExec``, what that setting becomes) at another
archive, so Spark's own worker launcher starts each one. Spark listens on 127.0.0.1 only
(SPARK_LOCAL_IP), and talks to nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import CACHE, cli, make_venv, run
from tests.spark_cases import FORMATS, OUTCOMES, SPARKS, Spark
from uv_portable.prove.sandbox import hidden_python_paths

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

JOB = r"""
import json, sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("uv-portable-e2e").getOrCreate()
sc = spark.sparkContext


def probe(part):
    import os, sys
    import numpy as np
    yield {"executable": sys.executable, "prefix": sys.prefix, "cwd": os.getcwd(),
           "sum": float(np.arange(1, 101).sum()), "dot": float(np.ones(50) @ np.ones(50)),
           "n": len(list(part)), "version": "%d.%d" % sys.version_info[:2]}


for alias in sys.argv[1:]:
    sc.pythonExec = "./%s/bin/python" % alias  # the first is spark.pyspark.python's own value
    try:
        rows = sc.parallelize(range(10), 2).mapPartitions(probe).collect()
        out = {"alias": alias, "driver": sys.executable, "rows": rows}
    except Exception as exc:  # the executor could not start that interpreter
        out = {"alias": alias, "error": str(exc)[:8000]}
    print("RESULT " + json.dumps(out), flush=True)
spark.stop()
"""

VENV_PACK = "venv-pack"  # the negative control's alias


def alias(fmt: str) -> str:
    """The --archives alias of a format's archive: `environment` for .tar.gz, as users name it."""
    return "environment" if fmt == "tar.gz" else "env-" + fmt.replace(".", "-")


@dataclass(frozen=True)
class SparkRun:
    """One pyspark version's venv, the unpacked export its driver ran, and what each job of
    the single spark-submit reported (by alias)."""

    spark: Spark
    venv: Path
    driver: Path
    results: dict[str, dict[str, object]]
    stderr: str

    def result(self, name: str) -> dict[str, object]:
        """The job's report for an alias, or a failure showing what spark-submit said."""
        if name not in self.results:
            pytest.fail(f"no report for {name}; spark-submit said:\n{self.stderr[-4000:]}")
        return self.results[name]


@pytest.fixture(scope="module", params=SPARKS, ids=lambda s: s.version)
def spark_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SparkRun:
    """A venv of one pinned pyspark, exported in every format of the matrix (the .tar.gz
    verified), packed by venv-pack too, all shipped by one spark-submit."""
    if shutil.which("java") is None:
        pytest.fail("java is not installed; .ci/run installs a JRE (default-jre-headless)")
    spark: Spark = request.param
    work = tmp_path_factory.mktemp(f"spark-{spark.version}")
    started = time.monotonic()
    venv = make_venv(work / "venv", spark.python, [f"pyspark=={spark.version}", "numpy"])
    archives = {fmt: work / f"env.{fmt}" for fmt in FORMATS}
    for fmt, archive in archives.items():
        if fmt == "tgz":  # the .tar.gz writer's bytes (exports are byte-identical): link them
            os.link(archives["tar.gz"], archive)
            continue
        verify = () if fmt == "tar.gz" else ("--no-verify",)
        proc = cli("export", str(venv), str(archive), *verify)
        assert proc.returncode == 0, proc.stderr
    exported = time.monotonic()
    packed = work / "venv-pack.tar.gz"
    run([sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(packed)])
    driver = work / "driver-env"  # the driver runs the same export, unpacked
    driver.mkdir()
    with tarfile.open(archives["tar.gz"]) as tar:
        tar.extractall(driver, filter="data")
    # working formats first: a failed worker launch must not decide what follows
    order = sorted(FORMATS, key=lambda f: (OUTCOMES[(spark.version, f)] != (), f != "tar.gz"))
    shipped = [(archives[f], alias(f)) for f in order] + [(packed, VENV_PACK)]
    submitted = time.monotonic()
    proc = spark_submit(driver, shipped, work, hide=[str(venv), str(CACHE / "pythons")])
    done = time.monotonic()
    print(  # the matrix's cost, for CI's time budget (shown with -rA)
        f"spark {spark.version}: venv + exports {exported - started:.0f} s, venv-pack + "
        f"driver {submitted - exported:.0f} s, spark-submit {done - submitted:.0f} s"
    )
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            report = json.loads(line[len("RESULT ") :])
            results[report["alias"]] = report
    return SparkRun(spark, venv, driver, results, proc.stderr)


def spark_submit(
    driver: Path, archives: list[tuple[Path, str]], work: Path, hide: list[str]
) -> subprocess.CompletedProcess[str]:
    """spark-submit the job on a local-cluster (which unpacks --archives for executors), inside
    a mount namespace where the host's Pythons and the source venv are empty tmpfs."""
    job = work / "job.py"
    job.write_text(JOB)
    spark_home = next(driver.glob("lib/python3*/site-packages/pyspark"))
    folders, files = hidden_python_paths()
    mounts = [f"mount --bind /dev/null {f}" for f in files]
    mounts += [f"mount -t tmpfs none {d}" for d in [*folders, *hide] if os.path.isdir(d)]
    submit = [
        str(spark_home / "bin" / "spark-submit"),
        "--master",
        "local-cluster[1,1,1024]",
        "--archives",
        ",".join(f"{path}#{name}" for path, name in archives),
        "--conf",
        f"spark.pyspark.python=./{archives[0][1]}/bin/python",
        "--conf",
        f"spark.pyspark.driver.python={driver}/bin/python",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.task.maxFailures=1",  # a worker that cannot start fails its job at once
        str(job),
        *(name for _, name in archives),
    ]
    script = "set -e\n" + "\n".join(mounts) + '\nexec "$@"'
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_HOSTNAME": "localhost",
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        "LANG": "C.UTF-8",
    }
    if not env["JAVA_HOME"]:
        env.pop("JAVA_HOME")
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *submit],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=900,
        check=False,
    )


def test_the_pinned_spark_and_hadoop(spark_run: SparkRun) -> None:
    """The matrix runs the versions the guide's table names."""
    pyspark = next(spark_run.driver.glob("lib/python3*/site-packages/pyspark"))
    code = "import pyspark; print(pyspark.__version__)"
    proc = run([str(spark_run.driver / "bin" / "python"), "-c", code])
    assert proc.stdout.strip() == spark_run.spark.version
    jars = {p.name for p in (pyspark / "jars").glob("hadoop-client-api-*.jar")}
    assert jars == {f"hadoop-client-api-{spark_run.spark.hadoop}.jar"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_archive_format(spark_run: SparkRun, fmt: str) -> None:
    """Executors run the interpreter of the archive, unpacked into their working folder, with
    every host Python hidden; or, where the matrix says the format fails, fail as it says
    (so the guide's "fails" cells are proven too, and a Spark that starts keeping modes makes
    this fail until the guide says so)."""
    name = alias(fmt)
    report = spark_run.result(name)
    expected = OUTCOMES[(spark_run.spark.version, fmt)]
    if expected:
        assert "rows" not in report, report
        error = str(report["error"])
        assert f'Cannot run program "./{name}/bin/python"' in error, error[:3000]
        for text in expected:
            assert text in error, error[:3000]
        return
    assert "error" not in report, str(report["error"])[:3000]
    assert str(report["driver"]).startswith(str(spark_run.driver))
    rows: list[dict[str, object]] = report["rows"]  # type: ignore[assignment]
    assert sum(r["n"] for r in rows) == 10  # type: ignore[misc]
    for row in rows:
        assert row["sum"] == 5050.0 and row["dot"] == 50.0
        assert row["version"] == spark_run.spark.python, row
        # the executor's Python is the unpacked archive inside its working directory
        assert row["prefix"] == f"{row['cwd']}/{name}", row
        assert f"/{name}/bin/python" in str(row["executable"]), row


def test_negative_control_venv_pack_archive_fails(spark_run: SparkRun) -> None:
    """The same venv packed by venv-pack (no interpreter inside) fails where the export runs."""
    report = spark_run.result(VENV_PACK)
    assert "rows" not in report and "error" in report, report
