"""For a macOS runner (`nox -s e2e_macos`): a real uv venv on an uv-managed CPython is exported,
moved, and run with a clean environment; `codesign --verify` accepts every changed binary.

Not collected on Linux (the Linux sessions run tests/unit, tests/integration and tests/e2e);
on macOS nothing hides the build interpreter, so the test also renames the uv Python
directory away while the export runs (negative control first)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli, pip_install, run, uv, uv_env

pytestmark = pytest.mark.skipif(sys.platform != "darwin", reason="needs a macOS machine")


def test_export_runs_moved_with_the_base_hidden(tmp_path: Path) -> None:
    env = uv_env()
    install_dir = tmp_path / "pythons"
    env["UV_PYTHON_INSTALL_DIR"] = str(install_dir)
    env.pop("UV_PYTHON_DOWNLOADS", None)
    run([uv(), "python", "install", "3.12"], env=env)
    venv = tmp_path / "venv"
    run([uv(), "venv", "--relocatable", "--managed-python", "-p", "3.12", str(venv)], env=env)
    pip_install(str(venv / "bin" / "python"), ["numpy", "pyyaml"], env=env)
    out = tmp_path / "out"
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    moved = tmp_path / "elsewhere" / "env"
    moved.parent.mkdir()
    os.rename(out, moved)
    hidden = tmp_path / "pythons-hidden"
    os.rename(install_dir, hidden)  # the base interpreter is gone
    try:
        control = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "print(1)"], capture_output=True, check=False
        )
        assert control.returncode != 0, "the raw venv must fail without its base"
        code = (
            "import json, sys, numpy, yaml; print(json.dumps([sys.prefix, "
            "float(numpy.ones(3) @ numpy.ones(3))]))"
        )
        proc = subprocess.run(
            [str(moved / "bin" / "python"), "-I", "-c", code],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        prefix, dot = json.loads(proc.stdout)
        assert Path(prefix).resolve() == moved.resolve() and dot == 3.0
        for path in moved.rglob("*"):
            if path.is_file() and path.suffix in (".so", ".dylib"):
                verify = subprocess.run(
                    ["codesign", "--verify", str(path)], capture_output=True, check=False
                )
                assert verify.returncode == 0, (path, verify.stderr)
    finally:
        os.rename(hidden, install_dir)
        shutil.rmtree(tmp_path / "elsewhere", ignore_errors=True)
