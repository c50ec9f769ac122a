"""The tool itself runs on the oldest Python it supports (3.9): typer reads our annotations
at run time, and tomllib is tomli there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYENV_ROOT, REPO, pip_install, run, uv, uv_env


@pytest.fixture(scope="module")
def tool_on_39(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = sorted((PYENV_ROOT / "versions").glob("3.9.*"))[-1] / "bin" / "python3.9"
    venv = tmp_path_factory.mktemp("tool39") / "venv"
    env = uv_env()
    run([uv(), "venv", "-q", "--python", str(base), str(venv)], env=env)
    pip_install(str(venv / "bin" / "python"), [], local=[str(REPO)], env=env)
    return venv / "bin" / "uv-portable"


def test_cli_starts_on_python_39(tool_on_39: Path) -> None:
    proc = run([str(tool_on_39), "--version"])
    assert proc.stdout.startswith("uv-portable ")
    assert "export" in run([str(tool_on_39), "export", "--help"]).stdout


def test_export_and_config_on_python_39(tool_on_39: Path, small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "env.tar.gz"
    proc = subprocess.run(
        [str(tool_on_39), "export", str(small_venv), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    proc = subprocess.run(
        [str(tool_on_39), "config", str(REPO)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert 'output = "dist/uv-portable-env.tar.gz"' in proc.stdout
