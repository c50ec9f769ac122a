"""Every base uv makes venvs from: the distribution's own python3 (Debian patches site.py),
pyenv or self-built with a shared libpython (its Tcl/Tk from the host), uv-managed. Each is
exported, moved, and run with the host's Pythons hidden; what the source imports, the export
imports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PYENV_ROOT, cli, make_venv, run, run_sandboxed

pytestmark = pytest.mark.e2e
MOUNT = "/opt/moved/env"
DISTRO_PYTHON = "/usr/bin/python3.11"
IMPORTS = r"""
import importlib, json, sys
ok = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        ok[name] = True
    except Exception as exc:
        ok[name] = repr(exc)
print(json.dumps({"prefix": sys.prefix, "path": sys.path, "ok": ok}))
"""
SYSCONFIG = r"""
import json, os, sysconfig
paths = dict(sysconfig.get_paths())
paths["makefile"] = sysconfig.get_makefile_filename()
for var in ("srcdir", "LIBPL", "LIBDEST", "BINDIR", "INCLUDEPY"):
    paths[var] = sysconfig.get_config_var(var)
print(json.dumps({k: v for k, v in paths.items() if not os.path.exists(v)}))
"""
TCL = "import tkinter; print(tkinter.Tcl().eval('info patchlevel'))"


def _export(venv: Path, out: Path) -> str:
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _imports(tree: Path, modules: list[str]) -> dict[str, Any]:
    proc = run_sandboxed(tree, [f"{MOUNT}/bin/python", "-c", IMPORTS, *modules], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def distro_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    assert Path(DISTRO_PYTHON).is_file(), "this machine's Debian python3.11 is the base"
    work = tmp_path_factory.mktemp("distro")
    venv = make_venv(work / "venv", "3.11", ["cowsay", "six"], python=DISTRO_PYTHON)
    out = work / "out"
    stderr = _export(venv, out)
    assert "verified with bwrap (the host's Python hidden): the export imports what" in stderr
    return venv, out


def test_distribution_python_base_imports_what_the_source_imports(
    distro_export: tuple[Path, Path], bwrap: str
) -> None:
    _, out = distro_export
    manifest = json.loads((out / "share/uv-portable/manifest.json").read_text())
    assert manifest["interpreter"]["kind"] == "distribution"
    assert any("terminfo" in r for r in manifest["host_requirements"]), "ncurses data: the host's"
    result = _imports(out, ["cowsay", "six", "ssl", "sqlite3"])
    assert result["ok"] == {"cowsay": True, "six": True, "ssl": True, "sqlite3": True}
    assert result["prefix"] == MOUNT
    assert all(p == MOUNT or p.startswith(MOUNT + "/") for p in result["path"] if p)


def test_distribution_base_negative_control(
    distro_export: tuple[Path, Path], tmp_path: Path, bwrap: str
) -> None:
    """Without the dist-packages hook, Debian's site.py never sees the venv's packages."""
    _, out = distro_export
    copy = tmp_path / "env"
    shutil.copytree(out, copy, symlinks=True)
    (copy / "lib/python3.11/dist-packages/_uv_portable_site.pth").unlink()
    result = _imports(copy, ["cowsay"])
    assert result["ok"]["cowsay"] != True  # noqa: E712


@pytest.fixture(scope="module")
def pyenv_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = sorted((PYENV_ROOT / "versions").glob("3.12.*"))[-1] / "bin" / "python3.12"
    work = tmp_path_factory.mktemp("pyenv")
    venv = make_venv(work / "venv", "3.12", ["cowsay"], python=str(base))
    out = work / "out"
    _export(venv, out)
    return out


def test_tcl_finds_its_bundled_script_library(pyenv_export: Path, bwrap: str) -> None:
    """The sandbox has the host's libraries (libX11) but no /usr/share/tcltk."""
    assert (pyenv_export / "lib/tcl8.6/init.tcl").is_file()
    proc = run_sandboxed(pyenv_export, [f"{MOUNT}/bin/python", "-c", TCL], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("8.6.")
    manifest = json.loads((pyenv_export / "share/uv-portable/manifest.json").read_text())
    assert "tkinter needs libX11.so.6 from the host" in manifest["host_requirements"]
    checked = cli("check", str(pyenv_export))
    assert "tkinter needs libX11.so.6 from the host" in checked.stdout


def test_tcl_negative_control(pyenv_export: Path, tmp_path: Path, bwrap: str) -> None:
    copy = tmp_path / "env"
    shutil.copytree(pyenv_export, copy, symlinks=True)
    shutil.rmtree(copy / "lib/tcl8.6")
    proc = run_sandboxed(copy, [f"{MOUNT}/bin/python", "-c", TCL], mount_at=MOUNT)
    assert proc.returncode != 0 and "init.tcl" in proc.stderr


@pytest.mark.parametrize("which", ["pyenv", "managed"])
def test_every_sysconfig_path_exists(
    which: str, pyenv_export: Path, tmp_path: Path, bwrap: str
) -> None:
    if which == "pyenv":
        tree = pyenv_export
    else:
        tree = tmp_path / "out"
        _export(make_venv(tmp_path / "venv", "3.12", []), tree)
    proc = run_sandboxed(tree, [f"{MOUNT}/bin/python", "-c", SYSCONFIG], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {}
    assert not list(tree.glob("lib/python3.12/config-*/*.a")), "the static libpython is dropped"
    run([str(tree / "bin" / "python"), "-c", "import sysconfig; sysconfig.get_makefile_filename()"])
