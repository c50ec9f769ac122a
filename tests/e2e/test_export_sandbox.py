"""Export real venvs, move them, and run them where the build interpreter cannot be seen."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import (
    MINORS,
    PROBE,
    PYENV_ROOT,
    cli,
    make_venv,
    probe_json,
    run_sandboxed,
    tree_digest,
)
from uv_portable.prove.static import verify_tree

pytestmark = pytest.mark.e2e

PACKAGES = ["numpy", "cowsay", "cryptography", "pillow"]
# numpy and pillow load libraries they vendor in numpy.libs / pillow.libs.
EXTRA_IMPORTS = ["numpy", "PIL.Image", "PIL._webp", "cryptography.hazmat.bindings._rust"]
MOUNT = "/opt/elsewhere/env"
WORK = (
    "import numpy as np, PIL.features as f;"
    "a = np.arange(1, 401, dtype=float).reshape(20, 20) + np.eye(20) * 1000;"
    "print(round(float(np.linalg.det(a @ np.linalg.inv(a))), 6), f.check('webp'), f.check('jpg'))"
)


@dataclass(frozen=True)
class Exported:
    minor: str
    venv: Path
    out: Path
    stderr: str


@pytest.fixture(scope="module", params=MINORS)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    minor = request.param
    work = tmp_path_factory.mktemp(f"py{minor}")
    venv = make_venv(work / "venv", minor, PACKAGES)
    before = tree_digest(venv)
    out = work / "out"
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(venv) == before, "the source venv was modified"
    moved = work / "moved" / "somewhere-else"
    moved.parent.mkdir()
    os.rename(out, moved)
    return Exported(minor, venv, moved, proc.stderr)


def _inside(value: str) -> bool:
    return value == MOUNT or value.startswith(MOUNT + "/")


def test_interpreter_runs_with_the_host_hidden(exported: Exported, bwrap: str) -> None:
    proc = run_sandboxed(
        exported.out, [f"{MOUNT}/bin/python", "-c", PROBE, *EXTRA_IMPORTS], mount_at=MOUNT
    )
    assert proc.returncode == 0, proc.stderr
    info = probe_json(proc.stdout)
    assert info["version"][:2] == [int(p) for p in exported.minor.split(".")]
    for key in ("prefix", "base_prefix", "exec_prefix", "executable", "libdir"):
        assert _inside(str(info[key])), (key, info[key])
    assert all(_inside(p) for p in info["path"] if p), info["path"]
    assert all(_inside(p) for p in info["paths"].values()), info["paths"]
    assert all(f is None or _inside(f) for f in info["imported"].values()), info["imported"]
    assert info["user_site"] is False  # a venv-like prefix keeps ~/.local out


def test_compiled_extensions_and_vendored_libraries_work(exported: Exported, bwrap: str) -> None:
    proc = run_sandboxed(exported.out, [f"{MOUNT}/bin/python3", "-c", WORK], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1.0", "True", "True"]


def test_console_script_runs(exported: Exported, bwrap: str) -> None:
    proc = run_sandboxed(exported.out, [f"{MOUNT}/bin/cowsay", "-t", "portable"], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert "portable" in proc.stdout


def test_activate_finds_its_location(exported: Exported, bwrap: str) -> None:
    script = (
        f". {MOUNT}/bin/activate && echo $VIRTUAL_ENV && python -c 'import sys; print(sys.prefix)'"
    )
    proc = run_sandboxed(exported.out, ["bash", "-c", script], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [MOUNT, MOUNT]


def test_all_python_names_work(exported: Exported, bwrap: str) -> None:
    for name in ("python", "python3", f"python{exported.minor}"):
        proc = run_sandboxed(
            exported.out,
            [f"{MOUNT}/bin/{name}", "-c", "import sys; print(sys.prefix)"],
            mount_at=MOUNT,
        )
        assert proc.returncode == 0 and proc.stdout.strip() == MOUNT, (name, proc.stderr)


def test_negative_control_unprocessed_venv_fails(exported: Exported, bwrap: str) -> None:
    """The same sandbox really hides the host: the raw venv cannot start in it."""
    proc = run_sandboxed(
        exported.venv, [f"{MOUNT}/bin/python", "-c", "print('alive')"], mount_at=MOUNT
    )
    assert proc.returncode != 0
    assert "alive" not in proc.stdout


def test_tree_is_self_contained(exported: Exported) -> None:
    assert verify_tree(exported.out).errors == ()
    cfg = (exported.out / "pyvenv.cfg").read_text()
    assert "home" not in cfg
    for path in exported.out.rglob("*"):
        if path.is_symlink():
            target = os.readlink(path)
            assert not target.startswith("/"), (path, target)
            assert path.resolve().is_relative_to(exported.out.resolve()), path
    assert not (exported.out / "lib" / f"python{exported.minor}" / "test").exists()
    config = list((exported.out / "lib" / f"python{exported.minor}").glob("config-*"))
    assert config and (config[0] / "Makefile").is_file(), "sysconfig names config-*/Makefile"
    assert not list(config[0].glob("*.a")), "the static libpython is left out"


def test_absolute_runpath_interpreter_is_made_relative(tmp_path: Path, bwrap: str) -> None:
    """pyenv's --enable-shared builds carry RUNPATH=<prefix>/lib on every binary."""
    base = sorted((PYENV_ROOT / "versions").glob("3.9.*"))[-1] / "bin" / "python3.9"
    venv = make_venv(tmp_path / "venv", "3.9", ["cowsay"], python=str(base), relocatable=False)
    out = tmp_path / "out"
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    assert "rewrote" in proc.stderr  # not --relocatable: scripts were rewritten, and it says so
    proc = run_sandboxed(out, [f"{MOUNT}/bin/python", "-c", PROBE], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert _inside(str(probe_json(proc.stdout)["prefix"]))
    proc = run_sandboxed(out, [f"{MOUNT}/bin/cowsay", "-t", "moo"], mount_at=MOUNT)
    assert proc.returncode == 0 and "moo" in proc.stdout, proc.stderr
    control = run_sandboxed(venv, [f"{MOUNT}/bin/python", "-c", "print(1)"], mount_at=MOUNT)
    assert control.returncode != 0
