"""Pure parts of the Windows path: names, launcher formats, the DLL policy. No Wine needed."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from tests.windows.fixtures import distlib_launcher
from uv_portable.windows.check import WindowsRun
from uv_portable.windows.dlls import policy
from uv_portable.windows.launchers import (
    Launcher,
    LauncherError,
    interpreter_name,
    read_launcher,
    retarget,
)
from uv_portable.windows.names import check_names, name_problem


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("CON", True),
        ("con.txt", True),
        ("Nul.py", True),
        ("COM1", True),
        ("lpt9.dat", True),
        ("AUX", True),
        ("PRN.x", True),
        ("x.", True),
        ("x ", True),
        ("a<b", True),
        ("a?b", True),
        ("console.py", False),
        ("com10", False),
        ("conf", False),
        ("nul_", False),
        (".hidden", False),
        ("numpy", False),
    ],
)
def test_name_problem(name: str, bad: bool) -> None:
    assert (name_problem(name) is not None) is bad


def test_check_names_collisions_and_long_paths() -> None:
    long = "Lib/site-packages/" + "x" * 230
    findings = check_names(["Lib/Foo.py", "Lib/foo.py", "Lib/bar.py", long, "a/NUL/b.py"])
    codes = sorted((f.code, f.path) for f in findings)
    assert codes == [
        ("case-collision", "Lib/foo.py"),
        ("long-path", long),
        ("windows-name", "a/NUL/b.py"),
    ]
    assert next(f for f in findings if f.code == "long-path").severity == "warning"


def _zip(body: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("__main__.py", body)
    return out.getvalue()


def test_uv_appended_trampoline_round_trip(tmp_path: Path) -> None:
    head = distlib_launcher("t64.exe")  # any PE stands in for uv's launcher code
    python = b"C:\\build\\venv\\Scripts\\pythonw.exe"
    data = head + _zip("print(1)") + python + struct.pack("<I", len(python)) + b"UVSC"
    exe = tmp_path / "tool.exe"
    exe.write_bytes(data)
    launcher = read_launcher(exe)
    assert launcher == Launcher("uv-appended", python.decode())
    assert not launcher.relative
    new = retarget(exe, launcher)
    exe.write_bytes(new)
    again = read_launcher(exe)
    assert again == Launcher("uv-appended", "..\\pythonw.exe") and again.relative
    assert new.startswith(head + _zip("print(1)"))


def test_distlib_launcher_shebang_is_rewritten(tmp_path: Path) -> None:
    body = _zip("import sys\n")
    for shebang in (b'#!"C:\\Program Files\\venv\\Scripts\\python.exe"\r\n', b"#!python.exe\n"):
        exe = tmp_path / "tool.exe"
        exe.write_bytes(distlib_launcher("t64.exe") + shebang + body)
        launcher = read_launcher(exe)
        assert launcher is not None and launcher.kind == "distlib" and not launcher.relative
        new = retarget(exe, launcher)
        assert new.endswith(b"#!<launcher_dir>\\..\\python.exe\r\n" + body)
        exe.write_bytes(new)
        assert read_launcher(exe) == Launcher("distlib", "<launcher_dir>\\..\\python.exe")
        assert zipfile.ZipFile(exe).read("__main__.py") == b"import sys\n"


def test_plain_exe_is_not_a_launcher(tmp_path: Path) -> None:
    exe = tmp_path / "plain.exe"
    exe.write_bytes(distlib_launcher("t64.exe"))
    assert read_launcher(exe) is None


def test_truncated_appended_path_is_an_error(tmp_path: Path) -> None:
    exe = tmp_path / "bad.exe"
    exe.write_bytes(b"MZ" + struct.pack("<I", 10_000) + b"UVSC")
    with pytest.raises(LauncherError, match="truncated"):
        read_launcher(exe)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("C:\\v\\Scripts\\python.exe", "python.exe"),
        ('"C:\\v\\Scripts\\pythonw.exe"', "pythonw.exe"),
        ("python.exe", "python.exe"),
        ("pythonw.exe", "pythonw.exe"),
    ],
)
def test_interpreter_name(path: str, name: str) -> None:
    assert interpreter_name(path) == name


@pytest.mark.parametrize(
    ("dll", "system"),
    [
        ("KERNEL32.dll", True),
        ("api-ms-win-crt-runtime-l1-1-0.dll", True),
        ("ucrtbase.dll", True),
        ("WS2_32.dll", True),
        ("VCRUNTIME140.dll", False),
        ("msvcp140.dll", False),
        ("libopenblas.dll", False),
        ("python312.dll", False),
    ],
)
def test_dll_policy(dll: str, system: bool) -> None:
    assert policy().is_system(dll) is system
    assert (dll.lower() in policy().vc_runtime) is dll.lower().startswith(("vcruntime", "msvcp"))


def test_windows_run_outside_is_by_folder_not_by_prefix() -> None:
    where = "Z:\\tmp\\env"
    inside = WindowsRun("wine", True, where, (where, where), ("", where + "\\Lib", where))
    assert inside.outside() is None
    sibling = WindowsRun("wine", True, where, (where, "Z:\\tmp\\env2"), ())
    assert sibling.outside() == "Z:\\tmp\\env2"
    leaked = WindowsRun("wine", True, where, (where, where), ("C:\\Python312\\Lib",))
    assert leaked.outside() == "C:\\Python312\\Lib"
