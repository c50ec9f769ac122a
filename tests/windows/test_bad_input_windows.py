"""Windows venvs that cannot be exported: each is refused with the file named, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.windows.fixtures import WinVenv, distlib_launcher
from uv_portable.windows import check as windows_check
from uv_portable.windows.pe import set_rcdata


def _export(venv: WinVenv, out: Path, *extra: str, base: Path | None = None) -> tuple[int, str]:
    proc = cli("export", str(venv.venv), str(out), "--base", str(base or venv.base), *extra)
    return proc.returncode, proc.stderr


def replace_file(path: Path, data: bytes) -> None:
    """Give path new content without touching the file it was hard-linked to."""
    path.unlink()
    path.write_bytes(data)


def _nothing_written(out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if "uv-portable" in p.name] == []


@pytest.mark.parametrize("fmt", ["env", "env.zip"])
def test_missing_base_is_gone(venv_copy: WinVenv, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out" / fmt
    out.parent.mkdir()
    code, err = _export(venv_copy, out, base=tmp_path / "no-such-python")
    assert code == 4
    assert "base interpreter" in err and "is gone" in err
    _nothing_written(out)


def test_windows_home_without_base_asks_for_base(venv_copy: WinVenv, tmp_path: Path) -> None:
    proc = cli("export", str(venv_copy.venv), str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "--base" in proc.stderr and "home = " in proc.stderr


@pytest.mark.parametrize(("launcher", "label"), [("t32.exe", "32-bit"), ("t64-arm.exe", "ARM64")])
def test_win32_and_arm64_venvs_are_refused(
    venv_copy: WinVenv, tmp_path: Path, launcher: str, label: str
) -> None:
    replace_file(venv_copy.venv / "Scripts" / "python.exe", distlib_launcher(launcher))
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 4
    assert label in err and "python.exe" in err and "Traceback" not in err
    _nothing_written(out)


def test_unreadable_trampoline_resource_is_refused(venv_copy: WinVenv, tmp_path: Path) -> None:
    cowsay = venv_copy.venv / "Scripts" / "cowsay.exe"
    replace_file(cowsay, set_rcdata(cowsay, "UV_PYTHON_PATH", b"\xff\xfe\xff"))
    out = tmp_path / "out.zip"
    code, err = _export(venv_copy, out)
    assert code == 5
    assert "cowsay.exe" in err and "UV_PYTHON_PATH" in err
    _nothing_written(out)


def test_truncated_trampoline_is_refused(venv_copy: WinVenv, tmp_path: Path) -> None:
    cowsay = venv_copy.venv / "Scripts" / "cowsay.exe"
    replace_file(cowsay, b"MZ" + b"\0" * 62)
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 5
    assert "Scripts/cowsay.exe" in err
    _nothing_written(out)


def test_unresolved_dll_names_dll_and_pyd(venv_copy: WinVenv, tmp_path: Path) -> None:
    libs = venv_copy.venv / "Lib" / "site-packages" / "shapely.libs"
    geos_c = next(libs.glob("geos_c-*.dll"))
    geos_c.unlink()
    out = tmp_path / "out"
    proc = cli(
        "export", str(venv_copy.venv), str(out), "--base", str(venv_copy.base),
        "--dry-run", "--json",
    )  # fmt: skip
    assert proc.returncode == 5
    errors = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "unresolved-dll"]
    assert errors and all(geos_c.name in f["message"] for f in errors)
    assert any(f["path"].startswith("Lib/site-packages/shapely/") for f in errors)
    assert all(f["path"].endswith((".pyd", ".dll")) for f in errors)
    code, err = _export(venv_copy, out)
    assert code == 5 and geos_c.name in err and ".pyd" in err
    _nothing_written(out)
    code, err = _export(venv_copy, out, "--allow-missing", geos_c.name)
    assert code == 0, err
    assert "warning" in err and geos_c.name in err
    code, err = _export(venv_copy, tmp_path / "out2", "--no-bundle")
    assert code == 0, err
    assert "--no-bundle" in err and geos_c.name in err


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("CON.py", "reserved device name"),
        ("aux.txt", "reserved device name"),
        ("com1", "reserved device name"),
        ("trailing.", "ends with a dot"),
        ("space ", "ends with a dot or a space"),
        ("a:b", "does not allow"),
    ],
)
def test_windows_invalid_names_are_refused(
    venv_copy: WinVenv, tmp_path: Path, name: str, why: str
) -> None:
    folder = venv_copy.venv / "Lib" / "site-packages" / "odd"
    folder.mkdir()
    (folder / name).write_text("x = 1\n")
    out = tmp_path / "out.zip"
    code, err = _export(venv_copy, out)
    assert code == 5
    assert f"Lib/site-packages/odd/{name}" in err and why in err
    _nothing_written(out)


def test_case_only_collision_is_refused(venv_copy: WinVenv, tmp_path: Path) -> None:
    site = venv_copy.venv / "Lib" / "site-packages"
    (site / "Clash.py").write_text("")
    (site / "clash.py").write_text("")
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 5 and "only by case" in err and "clash.py" in err.lower()
    _nothing_written(out)


def test_long_path_warns_but_exports(venv_copy: WinVenv, tmp_path: Path) -> None:
    deep = venv_copy.venv / "Lib" / "site-packages" / "deep" / ("d" * 120) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "module.py").write_text("")
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 0, err
    assert "warning" in err and "260-character" in err and "module.py" in err


def test_symlinks_become_files(venv_copy: WinVenv, tmp_path: Path) -> None:
    site = venv_copy.venv / "Lib" / "site-packages"
    (tmp_path / "outside.py").write_text("VALUE = 1\n")
    (site / "linked.py").symlink_to(tmp_path / "outside.py")
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 0, err
    copied = out / "Lib" / "site-packages" / "linked.py"
    assert not copied.is_symlink() and copied.read_text() == "VALUE = 1\n"


def test_absolute_pth_outside_is_refused_inside_is_relative(
    venv_copy: WinVenv, tmp_path: Path
) -> None:
    site = venv_copy.venv / "Lib" / "site-packages"
    cfg = dict(
        line.split(" = ", 1) for line in (venv_copy.venv / "pyvenv.cfg").read_text().splitlines()
    )
    (site / "inside.pth").write_text(cfg["home"] + "\\Lib\\site-packages\\extra\n")
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 0, err
    assert (out / "Lib" / "site-packages" / "inside.pth").read_text() == "extra\n"
    (site / "outside.pth").write_text("D:\\elsewhere\\src\n")
    code, err = _export(venv_copy, tmp_path / "out2")
    assert code == 5 and "outside.pth" in err and "D:\\elsewhere\\src" in err


def test_check_finds_absolute_launcher_pyvenv_home_and_pth(
    venv_copy: WinVenv, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, err = _export(venv_copy, out)
    assert code == 0, err
    assert cli("check", str(out)).returncode == 0
    cowsay = out / "Scripts" / "cowsay.exe"
    cowsay.write_bytes(
        set_rcdata(cowsay, "UV_PYTHON_PATH", b"C:\\build\\venv\\Scripts\\python.exe")
    )
    (out / "pyvenv.cfg").write_text("home = C:\\Python312\n")
    (out / "Lib" / "site-packages" / "abs.pth").write_text("C:\\build\\src\n")
    proc = cli("check", str(out), "--json")
    assert proc.returncode == 1
    codes = {(f["code"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("absolute-launcher", "Scripts/cowsay.exe") in codes
    assert ("pyvenv-home", "pyvenv.cfg") in codes
    assert ("absolute-pth", "Lib/site-packages/abs.pth") in codes


def test_check_run_without_wine_says_so(
    venv_copy: WinVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert _export(venv_copy, out)[0] == 0
    monkeypatch.setattr(windows_check, "wine", lambda: None)
    report = windows_check.check_windows_tree(str(out), out, [], run=True)
    assert report.run is not None and not report.run.started
    assert "Wine is not installed" in report.run.message
    assert not report.ok


def test_dry_run_writes_nothing(venv_copy: WinVenv, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = cli("export", str(venv_copy.venv), str(out), "--base", str(venv_copy.base), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "(windows)" in proc.stdout and "Scripts/cowsay.exe" in proc.stdout
    assert not out.exists()
