"""Windows venvs built by Windows uv under Wine, exported on Linux, unpacked at C:\\moved\\app
and run there with the base and the venv renamed away."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.windows.fixtures import WinVenv, wrun
from uv_portable.windows.dlls import is_pe_name, resolve_imports
from uv_portable.windows.launchers import read_launcher
from uv_portable.windows.pe import read_pe
from uv_portable.windows.verify import verify_windows_tree
from uv_portable.windows.wine import run_windows, winpath

NUMPY = {"3.12": "1.26.4", "3.13": "2.1.3"}
PROBE = r"""
import json, sys
import numpy, markupsafe, shapely, cowsay
from shapely.geometry import Point
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path,
                  "numpy": numpy.__version__, "sum": int(numpy.arange(10).sum()),
                  "area": round(Point(0, 0).buffer(1).area, 2),
                  "escaped": str(markupsafe.escape("<b>"))}))
"""
MOVED = "C:\\moved\\app"


@dataclass(frozen=True)
class Exported:
    """One venv exported as a folder and as a zip."""

    source: WinVenv
    folder: Path
    archive: Path


@pytest.fixture(scope="session")
def exported(win_venv: WinVenv, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The venv exported by the CLI, to a folder and to a .zip."""
    where = tmp_path_factory.mktemp(f"export{win_venv.minor}")
    folder, archive = where / "env", where / "env.zip"
    for out in (folder, archive):
        proc = cli("export", str(win_venv.venv), str(out), "--base", str(win_venv.base))
        assert proc.returncode == 0, proc.stderr
    assert "runs on 64-bit Windows" in proc.stderr
    return Exported(win_venv, folder, archive)


@contextmanager
def hidden(*paths: Path) -> Iterator[None]:
    """Rename folders away for the duration (the build machine's base and venv are gone)."""
    moved = [(p, p.with_name(p.name + ".hidden")) for p in paths]
    for src, dest in moved:
        src.rename(dest)
    try:
        yield
    finally:
        for src, dest in moved:
            dest.rename(src)


@contextmanager
def unpacked_at_moved(archive: Path, env: dict[str, str]) -> Iterator[Path]:
    """The zip unpacked at C:\\moved\\app of the Wine prefix; removed afterwards."""
    app = Path(env["WINEPREFIX"]) / "drive_c" / "moved" / "app"
    shutil.rmtree(app.parent, ignore_errors=True)
    app.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(app)
        yield app
    finally:
        shutil.rmtree(app.parent, ignore_errors=True)


def test_layout_is_an_installed_cpython(exported: Exported) -> None:
    nodot = exported.source.minor.replace(".", "")
    root = exported.folder
    for name in ("python.exe", "pythonw.exe", f"python{nodot}.dll", "python3.dll"):
        assert (root / name).is_file(), name
    assert (root / "vcruntime140.dll").is_file()
    assert (root / "DLLs" / "_ssl.pyd").is_file()
    assert any((root / "Lib" / n).is_file() for n in ("os.py", "os.pyc"))
    assert (root / "Lib" / "site-packages" / "numpy").is_dir()
    assert (root / "Lib" / "site-packages" / "shapely.libs").is_dir()
    assert (root / "Scripts" / "cowsay.exe").is_file()
    assert not (root / "pyvenv.cfg").exists()
    # uv copied the interpreter's .pyd files into the venv's Scripts\: they are not kept there
    assert not list((root / "Scripts").glob("*.pyd"))
    with zipfile.ZipFile(exported.archive) as zf:
        names = set(zf.namelist())
    assert "python.exe" in names and "Scripts/cowsay.exe" in names
    manifest = json.loads((root / "share/uv-portable/manifest.json").read_text())
    assert manifest["interpreter"]["version"].startswith(exported.source.minor)
    assert manifest["files"]["python.exe"]["sha256"]
    assert {d["name"] for d in manifest["distributions"]} >= {"numpy", "shapely", "cowsay"}
    assert (root / "share/uv-portable/sbom.cdx.json").is_file()


def test_every_pe_import_resolves(exported: Exported) -> None:
    files = {
        str(p.relative_to(exported.folder)): p for p in exported.folder.rglob("*") if p.is_file()
    }
    pe = [d for d in files if is_pe_name(d)]
    assert len(pe) > 50
    assert all(read_pe(files[d]).machine == "x64" for d in pe if d.endswith(".pyd"))
    assert [f for f in resolve_imports(files) if f.severity == "error"] == []
    assert [f for f in verify_windows_tree(exported.folder) if f.severity != "info"] == []


def test_no_absolute_build_path_remains(exported: Exported) -> None:
    build = [winpath(exported.source.venv).lower(), winpath(exported.source.base).lower()]
    for path in exported.folder.rglob("*"):
        if not path.is_file() or path.suffix.lower() in (".pyc", ".dll", ".pyd"):
            continue
        data = path.read_bytes().lower()
        for b in build:
            for spelling in (b, b.replace("\\", "/"), b.replace("\\", "\\\\")):
                assert spelling.encode() not in data, f"{path} names {b}"
    for exe in sorted((exported.folder / "Scripts").glob("*.exe")):
        launcher = read_launcher(exe)
        if launcher is not None:
            assert launcher.relative, f"{exe.name}: {launcher}"
    launchers = [read_launcher(e) for e in (exported.folder / "Scripts").glob("*.exe")]
    kinds = {launcher.kind for launcher in launchers if launcher is not None}
    assert kinds == {"uv-resource", "distlib"}


def test_moved_runs_with_originals_hidden(exported: Exported, wine_env: dict[str, str]) -> None:
    source = exported.source
    elsewhere = exported.folder.parent
    with unpacked_at_moved(exported.archive, wine_env), hidden(source.base, source.venv):
        info = json.loads(wrun([f"{MOVED}\\python.exe", "-c", PROBE], wine_env, elsewhere))
        assert info["prefix"] == MOVED and info["base_prefix"] == MOVED
        assert all(p.startswith(MOVED) for p in info["path"] if p), info["path"]
        assert (info["numpy"], info["sum"], info["area"]) == (NUMPY[source.minor], 45, 3.14)
        assert info["escaped"] == "&lt;b&gt;"
        said = wrun([f"{MOVED}\\Scripts\\cowsay.exe", "-t", "moved away"], wine_env, elsewhere)
        assert "moved away" in said
        said = wrun([f"{MOVED}\\Scripts\\hello-pip.exe"], wine_env, elsewhere)
        assert said.strip() == f"hello from {MOVED}"
        probe = "import sys, numpy; print(sys.prefix)"
        said = wrun([f"{MOVED}\\Scripts\\python.exe", "-c", probe], wine_env, elsewhere)
        assert said.strip() == MOVED
        activate = f"{MOVED}\\Scripts\\activate.bat && echo VE=%VIRTUAL_ENV% && python -V"
        said = wrun(["cmd", "/c", activate], wine_env, elsewhere)
        assert f"VE={MOVED}" in [line.strip() for line in said.splitlines()], said
        assert f"Python {source.minor}." in said


def test_negative_control_venv_fails_without_base(
    exported: Exported, wine_env: dict[str, str]
) -> None:
    source = exported.source
    python = winpath(source.venv / "Scripts" / "python.exe")
    ok = run_windows([python, "-c", "import numpy"], wine_env, timeout=120)
    assert ok.returncode == 0, ok.stderr  # the venv works while its base is there
    with hidden(source.base):
        proc = run_windows([python, "-c", "import numpy"], wine_env, timeout=120)
        cowsay = run_windows([winpath(source.venv / "Scripts" / "cowsay.exe")], wine_env)
    assert proc.returncode != 0
    assert "encodings" in proc.stdout + proc.stderr
    assert cowsay.returncode != 0


def test_check_run_under_wine(exported: Exported) -> None:
    proc = cli("check", str(exported.archive), "--run", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["manifest"] is True  # every file compared with the manifest
    assert report["run"]["sandbox"] == "wine" and report["run"]["ok"]
    assert {"numpy", "shapely", "markupsafe", "cowsay", "ssl"} <= set(report["run"]["imported"])


def test_check_run_under_wine_finds_a_missing_dll(exported: Exported, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(exported.folder, broken, copy_function=os.link)
    geos_c = next((broken / "Lib" / "site-packages" / "shapely.libs").glob("geos_c-*.dll"))
    geos_c.unlink()
    proc = cli("check", str(broken), "--run", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert any(f["code"] == "unresolved-dll" for f in report["findings"])
    missing = {f["path"] for f in report["findings"] if f["code"] == "file-missing"}
    assert missing == {str(geos_c.relative_to(broken))}, "the manifest names the deleted DLL"
    failed = {f["module"]: f["error"] for f in report["run"]["failures"]}
    assert "shapely" in failed and "numpy" in report["run"]["imported"]
