"""Other kinds of Windows venvs: made without --relocatable, with a venv launcher instead of a
full copy of the interpreter, and with the base named by the config."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.helpers import cli
from tests.windows.fixtures import WinVenv, distlib_launcher, wrun
from tests.windows.test_bad_input_windows import replace_file
from uv_portable.windows.launchers import read_launcher
from uv_portable.windows.verify import verify_windows_tree
from uv_portable.windows.wine import winpath


def test_absolute_venv_is_made_relocatable(
    absolute_venv: WinVenv, wine_env: dict[str, str], tmp_path: Path
) -> None:
    venv_win = winpath(absolute_venv.venv)
    cowsay = read_launcher(absolute_venv.venv / "Scripts" / "cowsay.exe")
    assert cowsay is not None and cowsay.python.lower().startswith(venv_win.lower())
    bat = (absolute_venv.venv / "Scripts" / "activate.bat").read_text()
    assert venv_win in bat
    out = tmp_path / "out"
    proc = cli("export", str(absolute_venv.venv), str(out), "--base", str(absolute_venv.base))
    assert proc.returncode == 0, proc.stderr
    assert "build-path" not in proc.stderr
    bat = (out / "Scripts" / "activate.bat").read_text()
    assert venv_win not in bat and '@for %%i in ("%~dp0..") do' in bat
    for name in ("activate", "activate.fish", "activate.nu"):
        assert venv_win not in (out / "Scripts" / name).read_text(), name
    assert [f for f in verify_windows_tree(out, (venv_win,)) if f.severity != "info"] == []
    moved = tmp_path / "moved"
    out.rename(moved)
    said = wrun([winpath(moved / "Scripts" / "cowsay.exe"), "-t", "absolute no more"], wine_env)
    assert "absolute no more" in said


def test_venv_with_a_launcher_keeps_its_scripts(venv_copy: WinVenv, tmp_path: Path) -> None:
    scripts = venv_copy.venv / "Scripts"
    for copied in [*scripts.glob("*.pyd"), *scripts.glob("*.dll"), scripts / "pythonw.exe"]:
        copied.unlink()
    # a small x64 exe that does not import python3X.dll stands in for CPython's venv launcher
    replace_file(scripts / "python.exe", distlib_launcher("t64.exe"))
    out = tmp_path / "out"
    proc = cli("export", str(venv_copy.venv), str(out), "--base", str(venv_copy.base))
    assert proc.returncode == 0, proc.stderr
    assert "copy of the interpreter" not in proc.stderr
    assert (out / "Scripts" / "python.exe").read_bytes() == (
        venv_copy.base / "python.exe"
    ).read_bytes()
    assert not list((out / "Scripts").glob("*.pyd"))


def test_base_from_the_config(venv_copy: WinVenv, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "windows-python").symlink_to(venv_copy.base)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n\n[tool.uv-portable]\nbase = "windows-python"\n'
    )
    proc = cli("export", str(venv_copy.venv), str(tmp_path / "out"), cwd=project)
    assert proc.returncode == 0, proc.stderr
    proc = cli("config", "--json", cwd=project)
    assert '"base": "windows-python"' in proc.stdout


def test_tar_gz_works_too(venv_copy: WinVenv, tmp_path: Path) -> None:
    out = tmp_path / "env.tar.gz"
    proc = cli("export", str(venv_copy.venv), str(out), "--base", str(venv_copy.base))
    assert proc.returncode == 0, proc.stderr
    assert "tip: .zip" in proc.stderr
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar}
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert "python.exe" in members and "Scripts/cowsay.exe" in members
    assert not any(m.issym() for m in members.values())  # hard links: tar.exe restores them
    assert [f for f in verify_windows_tree(tmp_path / "unpacked") if f.severity != "info"] == []
    assert cli("check", str(out)).returncode == 0
