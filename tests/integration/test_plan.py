"""The plan is a value: printed by --dry-run, serialised by --json, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import PYENV_ROOT, cli, make_venv, tree_digest
from uv_portable import api as api_module
from uv_portable import cli as cli_module


@pytest.fixture(scope="module")
def pyenv_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = sorted((PYENV_ROOT / "versions").glob("3.11.*"))[-1] / "bin" / "python3.11"
    return make_venv(tmp_path_factory.mktemp("pyenv") / "venv", "3.11", [], python=str(base))


def test_dry_run_json_describes_everything_and_writes_nothing(
    pyenv_venv: Path, tmp_path: Path
) -> None:
    before = tree_digest(pyenv_venv)
    proc = cli("export", str(pyenv_venv), str(tmp_path / "out"), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert list(tmp_path.iterdir()) == []
    assert tree_digest(pyenv_venv) == before
    assert plan["base"]["version"].startswith("3.11.")
    by_dest = {a["dest"]: a for a in plan["actions"]}
    assert by_dest["bin/python"] == {
        "action": "symlink",
        "dest": "bin/python",
        "target": "python3.11",
    }
    assert by_dest["pyvenv.cfg"]["action"] == "write"
    patches = {a["dest"]: a for a in plan["actions"] if a["action"] == "set-runpath"}
    assert patches["bin/python3.11"]["new"] == ["$ORIGIN/../lib"]
    assert patches["lib/libpython3.11.so.1.0"]["new"] == ["$ORIGIN"]
    ssl = next(d for d in patches if d.startswith("lib/python3.11/lib-dynload/_ssl"))
    assert patches[ssl]["old"] == [str(PYENV_ROOT / "versions" / plan["base"]["version"] / "lib")]
    assert patches[ssl]["new"] == ["$ORIGIN/../.."]
    assert not any(d.startswith("lib/python3.11/test/") for d in by_dest)
    assert not any("site-packages/pip" in d for d in by_dest), "the base's site-packages leaked"


def test_keep_tests_and_exclude(pyenv_venv: Path, tmp_path: Path) -> None:
    proc = cli(
        "export",
        str(pyenv_venv),
        str(tmp_path / "out"),
        "--dry-run",
        "--json",
        "--keep-tests",
        "--exclude",
        "lib/python3.11/tkinter*",
    )
    assert proc.returncode == 0, proc.stderr
    dests = {a["dest"] for a in json.loads(proc.stdout)["actions"]}
    assert "lib/python3.11/test/__init__.py" in dests
    config = {d for d in dests if d.startswith("lib/python3.11/config-3.11")}
    assert any(d.endswith("/Makefile") for d in config), "sysconfig names config-*/Makefile"
    assert not any(d.endswith(".a") for d in config), "the static libpython is left out"
    assert not any(d.startswith("lib/python3.11/tkinter") for d in dests)
    proc = cli(
        "export", str(pyenv_venv), str(tmp_path / "out"), "--dry-run", "--json", "--keep-config"
    )
    dests = {a["dest"] for a in json.loads(proc.stdout)["actions"]}
    assert any(d.startswith("lib/python3.11/config-3.11") and d.endswith(".a") for d in dests)


def test_dry_run_text(pyenv_venv: Path, tmp_path: Path) -> None:
    proc = cli("export", str(pyenv_venv), str(tmp_path / "out"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "patch:   bin/python3.11 RUNPATH" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_unexpected_crash_gives_exit_3_and_a_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api_module, "export", boom)  # the CLI imports api when it runs
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code = cli_module.run(["export", "a", "b"])
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback" not in err and "kaboom" in err
    log = tmp_path / "uv-portable" / "uv-portable.log"
    assert str(log) in err
    assert "RuntimeError: kaboom" in log.read_text()
