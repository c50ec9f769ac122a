"""`spark = "X.Y"` in the config (or a target) guards the output format before any work:
.tar/.tar.zst are refused (exit 2, nothing written), .zip for Spark < 4 is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import cli
from tests.integration.test_bad_input import USAGE, assert_clean_failure


def project(tmp_path: Path, table: str) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "1"\nrequires-python = ">=3.9"\n' + table
    )
    return folder


@pytest.mark.parametrize(
    ("suffix", "text"), [("tar", "plain .tar without its exec bits"), ("tar.zst", ".tar.zst")]
)
def test_export_refuses_what_spark_cannot_run(
    small_venv: Path, tmp_path: Path, suffix: str, text: str
) -> None:
    cwd = project(tmp_path, '[tool.uv-portable]\nspark = "4.3"\n')
    out = tmp_path / f"env.{suffix}"
    proc = cli("export", str(small_venv), str(out), cwd=cwd)
    assert_clean_failure(proc, USAGE, text)
    assert "write .tar.gz" in proc.stderr
    assert not out.exists() and list(tmp_path.glob(".env*")) == []
    # the same export is fine when the config does not say Spark
    (cwd / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "1"\n')
    assert cli("export", str(small_venv), str(out), "--no-verify", cwd=cwd).returncode == 0


def test_build_refuses_before_making_a_venv(tmp_path: Path) -> None:
    cwd = project(
        tmp_path,
        '[tool.uv-portable]\noutput = "dist/env.tar.gz"\n'
        '[tool.uv-portable.targets.spark]\nspark = "3.5"\noutput = "dist/env.tar"\n',
    )
    proc = cli("build", str(cwd), "--target", "spark", cwd=cwd)
    assert_clean_failure(proc, USAGE, "spark = '3.5': Spark 3.5 unpacks a plain .tar")
    assert "creating a fresh environment" not in proc.stderr
    assert not (cwd / "dist").exists()


def test_zip_for_spark_3_is_a_warning(small_venv: Path, tmp_path: Path) -> None:
    cwd = project(tmp_path, '[tool.uv-portable]\n[tool.uv-portable.targets.old]\nspark = "3.5"\n')
    out = tmp_path / "env.zip"
    proc = cli("export", str(small_venv), str(out), "--target", "old", "--no-verify", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "warning: spark = '3.5'" in proc.stderr and "HADOOP-18145" in proc.stderr
    assert out.is_file()
    proc = cli("check", str(out))
    assert "note:    Spark 3.5" in proc.stdout and "HADOOP-18145" in proc.stdout
    # the top level names no Spark: no warning
    proc = cli("export", str(small_venv), str(tmp_path / "env4.zip"), "--no-verify", cwd=cwd)
    assert proc.returncode == 0 and "warning: spark" not in proc.stderr
