"""PySpark end to end: executors run the interpreter shipped with
`--archives env.tar.gz#environment` while every Python of the host is hidden (an unshare mount
namespace); venv-pack's archive of the same venv fails there.

Spark listens on 127.0.0.1 only (SPARK_LOCAL_IP), and talks to nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers import CACHE, cli, make_venv, run
from uv_portable.sandbox import hidden_python_paths

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

JOB = r"""
import json, sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("uv-portable-e2e").getOrCreate()


def probe(part):
    import os, sys
    import numpy as np
    yield {"executable": sys.executable, "prefix": sys.prefix, "cwd": os.getcwd(),
           "sum": float(np.arange(1, 101).sum()), "dot": float(np.ones(50) @ np.ones(50)),
           "n": len(list(part))}


rows = spark.sparkContext.parallelize(range(10), 2).mapPartitions(probe).collect()
print("RESULT " + json.dumps({"driver": sys.executable, "rows": rows}), flush=True)
spark.stop()
"""


# Every archive format the guide names for Spark (archives hold no symlinks, which some
# unpackers drop). A plain .tar is not one: Spark unpacks it in Java and drops the exec bits.
SPARK_FORMATS = ("tar.gz", "zip")


@pytest.fixture(scope="module")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    if shutil.which("java") is None:
        pytest.fail("java is not installed; .ci/run installs a JRE (default-jre-headless)")
    work = tmp_path_factory.mktemp("spark")
    venv = make_venv(work / "venv", "3.11", ["pyspark", "numpy"])
    archive = work / "env.tar.gz"
    proc = cli("export", str(venv), str(archive))
    assert proc.returncode == 0, proc.stderr
    for fmt in (*SPARK_FORMATS[1:], "tar"):
        proc = cli("export", str(venv), str(work / f"env.{fmt}"), "--no-verify")
        assert proc.returncode == 0, proc.stderr
    driver = work / "driver-env"  # the driver runs the same export, unpacked
    driver.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(driver, filter="data")
    return venv, archive, driver


def spark_submit(
    driver: Path, archive: Path, work: Path, hide: list[str]
) -> subprocess.CompletedProcess[str]:
    """spark-submit on a local-cluster (which unpacks --archives for executors), inside a
    mount namespace where the host's Pythons and the source venv are empty tmpfs."""
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
        f"{archive}#environment",
        "--conf",
        "spark.pyspark.python=./environment/bin/python",
        "--conf",
        f"spark.pyspark.driver.python={driver}/bin/python",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        str(job),
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
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("fmt", SPARK_FORMATS)
def test_executors_run_the_shipped_interpreter(
    spark_env: tuple[Path, Path, Path], tmp_path: Path, fmt: str
) -> None:
    venv, gz_archive, driver = spark_env
    archive = gz_archive.with_name(f"env.{fmt}")
    proc = spark_submit(driver, archive, tmp_path, hide=[str(venv), str(CACHE / "pythons")])
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["driver"].startswith(str(driver))
    rows = result["rows"]
    assert sum(r["n"] for r in rows) == 10
    for row in rows:
        assert row["sum"] == 5050.0 and row["dot"] == 50.0
        # the executor's Python is the unpacked archive inside its working directory
        assert "/environment/bin/python" in row["executable"], row
        assert row["prefix"].startswith(row["cwd"]), row
        assert row["prefix"] == row["cwd"] + "/environment", row  # unpacked by the executor


def test_plain_tar_loses_the_exec_bits_in_spark(
    spark_env: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Why the guide does not name .tar for Spark; if Spark starts keeping modes, this fails
    and the guide can name it again."""
    venv, gz_archive, driver = spark_env
    archive = gz_archive.with_name("env.tar")
    proc = spark_submit(driver, archive, tmp_path, hide=[str(venv), str(CACHE / "pythons")])
    assert proc.returncode != 0
    assert "./environment/bin/python" in proc.stderr and "Permission denied" in proc.stderr


def test_negative_control_venv_pack_archive_fails(
    spark_env: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    venv, _, driver = spark_env
    packed = tmp_path / "venv-pack.tar.gz"
    run([sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(packed)])
    proc = spark_submit(driver, packed, tmp_path, hide=[str(venv), str(CACHE / "pythons")])
    assert proc.returncode != 0
    assert "RESULT " not in proc.stdout
