"""Layouts of the newest CPythons, synthetic: free-threaded builds (PEP 703: detection from
sysconfig, the `t` names lib/python3.14t, python3.14t, cp314t, pythonw3.14t.exe in the plan,
the scripts, the Windows launchers and the bytecode compiler's choice of interpreter), and
Tcl/Tk 9 data folders. No free-threaded build has been run here: these are the names, not a
run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from uv_portable.binaries.policy import find_library_data, library_data
from uv_portable.model import CopyFile, Interpreter, MakeSymlink, WriteFile
from uv_portable.plan import make_plan
from uv_portable.plan.scripts import PYTHON_NAME
from uv_portable.source.venv import gil_disabled, is_free_threaded, load_source
from uv_portable.windows.detect import base_files
from uv_portable.windows.launchers import INTERPRETER_EXE, interpreter_name
from uv_portable.write.bytecode import host_interpreter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("build_time_vars = {'Py_GIL_DISABLED': 1, 'prefix': '/x'}", True),
        ("build_time_vars = {'Py_GIL_DISABLED': 0}", False),  # gh-143405: 0 is not free-threaded
        ('build_time_vars = {"Py_GIL_DISABLED" : 1}', True),
        ("build_time_vars = {'prefix': '/x'}", None),  # 3.12 and older do not say
    ],
)
def test_gil_disabled(text: str, expected: bool | None) -> None:
    assert gil_disabled(text) is expected


@pytest.mark.parametrize(
    ("libdir", "sysconfigdata", "expected"),
    [
        ("python3.14t", "build_time_vars = {'Py_GIL_DISABLED': 1}", True),
        ("python3.14", "build_time_vars = {'Py_GIL_DISABLED': 0}", False),
        ("python3.14t", None, True),  # no sysconfigdata: the `t` of the folder says it
        ("python3.12", None, False),
    ],
)
def test_is_free_threaded(
    tmp_path: Path, libdir: str, sysconfigdata: str | None, expected: bool
) -> None:
    stdlib = tmp_path / libdir
    stdlib.mkdir()
    if sysconfigdata is not None:
        (stdlib / "_sysconfigdata_t_linux_x86_64-linux-gnu.py").write_text(sysconfigdata)
    assert is_free_threaded(stdlib) is expected


@pytest.mark.parametrize(
    ("name", "is_interpreter"),
    [
        ("python", True),
        ("python3", True),
        ("python3.14", True),
        ("python3t", True),
        ("python3.14t", True),
        ("python3.14-config", False),
        ("python3.14t-config", False),
        ("pythonw", False),
        ("python-argcomplete-check", False),
    ],
)
def test_venv_interpreter_names(name: str, is_interpreter: bool) -> None:
    assert bool(PYTHON_NAME.match(name)) is is_interpreter


@pytest.mark.parametrize(
    ("stored", "name"),
    [
        ("C:\\Python314\\python.exe", "python.exe"),
        ('"C:\\Program Files\\Python314\\pythonw.exe"', "pythonw.exe"),
        ("C:\\Python314\\python3.exe", "python.exe"),
        ("C:\\Python314\\python3.14t.exe", "python3.14t.exe"),  # cpython#149786
        ("C:\\Python315\\PYTHONW3.15T.EXE", "pythonw3.15t.exe"),  # virtualenv#3021
        ("..\\python3.14t.exe", "python3.14t.exe"),
    ],
)
def test_windows_launcher_keeps_the_free_threaded_interpreter(stored: str, name: str) -> None:
    assert interpreter_name(stored) == name
    assert INTERPRETER_EXE.match(name)


@pytest.mark.parametrize(
    ("cfg_exe", "present", "expected"),
    [
        ("C:\\Py\\python.exe", ["python.exe", "python3.14t.exe"], ("python.exe", "python314.dll")),
        ("C:\\Py\\python3.14t.exe", ["python.exe"], ("python3.14t.exe", "python314t.dll")),
        ("", ["python3.14t.exe", "pythonw3.14t.exe"], ("python3.14t.exe", "python314t.dll")),
        ("", ["python.exe"], ("python.exe", "python314.dll")),
    ],
)
def test_windows_base_files(
    tmp_path: Path, cfg_exe: str, present: list[str], expected: tuple[str, str]
) -> None:
    for name in present:
        (tmp_path / name).write_bytes(b"MZ")
    values = {"executable": cfg_exe} if cfg_exe else {}
    exe, dll, free_threaded = base_files(values, (3, 14, 2), tmp_path)
    assert (exe, dll) == expected
    assert free_threaded is expected[0].endswith("t.exe")


def _free_threaded_layout(tmp_path: Path) -> Path:
    """A base prefix laid out as a free-threaded 3.14 (any ELF stands in for the binary) and
    an absolute-shebang venv on it."""
    prefix = tmp_path / "cpython-3.14.2+freethreaded"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(Path(sys.executable).resolve(), prefix / "bin" / "python3.14t")
    stdlib = prefix / "lib" / "python3.14t"
    (stdlib / "lib-dynload").mkdir(parents=True)
    (stdlib / "site-packages").mkdir()
    (stdlib / "os.py").write_text("# landmark\n")
    (stdlib / "_sysconfigdata_t_linux_x86_64-linux-gnu.py").write_text(
        f"build_time_vars = {{'prefix': '{prefix}', 'Py_GIL_DISABLED': 1}}\n"
    )
    for folder, marker in (("tcl9.0", "init.tcl"), ("tk9.0", "tk.tcl")):  # PBS's Tcl/Tk 9
        (prefix / "lib" / folder).mkdir(parents=True)
        (prefix / "lib" / folder / marker).write_text("# script library\n")
    (prefix / "include" / "python3.14t").mkdir(parents=True)
    (prefix / "include" / "python3.14t" / "patchlevel.h").write_text(
        '#define PY_VERSION "3.14.2"\n'
    )
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    site = venv / "lib" / "python3.14t" / "site-packages"
    (site / "demo").mkdir(parents=True)
    (site / "demo" / "__init__.py").write_text("")
    (venv / "pyvenv.cfg").write_text(f"home = {prefix / 'bin'}\nversion_info = 3.14.2\n")
    for name in ("python", "python3", "python3.14t", "python3t"):
        (venv / "bin" / name).symlink_to(prefix / "bin" / "python3.14t")
    (venv / "bin" / "demo").write_text(f"#!{venv}/bin/python3.14t\nimport demo\n")
    (venv / "bin" / "demo").chmod(0o755)
    return venv


def test_a_free_threaded_layout_is_planned_with_its_t_names(tmp_path: Path) -> None:
    venv = _free_threaded_layout(tmp_path)
    source = load_source(venv)
    base = source.base
    assert (base.libdir_name, base.free_threaded, base.abi_tag) == ("python3.14t", True, "cp314t")
    plan = make_plan(source)
    copies = {a.dest for a in plan.actions if isinstance(a, CopyFile)}
    links = {a.dest: a.target for a in plan.actions if isinstance(a, MakeSymlink)}
    writes = {a.dest: a for a in plan.actions if isinstance(a, WriteFile)}
    assert "bin/python3.14t" in copies
    assert links == {"bin/python": "python3.14t", "bin/python3": "python3.14t"}
    assert "bin/python3t" not in copies | set(links)  # the venv's link to the base: dropped
    assert "lib/python3.14t/os.py" in copies
    assert "lib/python3.14t/site-packages/demo/__init__.py" in copies
    assert {"lib/tcl9.0/init.tcl", "lib/tk9.0/tk.tcl"} <= copies  # beside bin/, where Tcl looks
    assert writes["bin/demo"].data.startswith(b"#!/bin/sh\n")
    assert str(venv).encode() not in writes["bin/demo"].data


def test_bytecode_is_not_compiled_by_a_gil_interpreter_for_a_free_threaded_base() -> None:
    version = (sys.version_info[0], sys.version_info[1], sys.version_info[2])
    base = Interpreter(
        Path("/nowhere"), Path("/nowhere/bin/python"), version, "CPython", "macos", "x", True
    )
    found = host_interpreter(base)
    assert found is None or found.name.endswith("t")
    gil = Interpreter(Path("/n"), Path("/n/bin/python"), version, "CPython", "macos", "x", False)
    if not sysconfig_gil_disabled():
        assert host_interpreter(gil) == Path(sys.executable)


def sysconfig_gil_disabled() -> bool:
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.parametrize(
    ("soname", "folder", "marker"),
    [
        ("libtcl8.6.so", "tcl8.6", "init.tcl"),
        ("libtk8.6.so", "tk8.6", "tk.tcl"),
        ("libtcl9.0.so", "tcl9.0", "init.tcl"),
        ("libtcl9tk9.0.so", "tk9.0", "tk.tcl"),  # Tk 9 names its library after Tcl's major
    ],
)
def test_tcl_and_tk_data_folders(tmp_path: Path, soname: str, folder: str, marker: str) -> None:
    spec = library_data(soname)
    assert spec is not None and (spec.folder, spec.marker) == (folder, marker)
    library = tmp_path / "lib" / soname
    library.parent.mkdir()
    library.write_bytes(b"")
    assert find_library_data(spec, library) is None or "tcltk" in str(
        find_library_data(spec, library)
    )
    (tmp_path / "lib" / folder).mkdir()
    (tmp_path / "lib" / folder / marker).write_text("")
    assert find_library_data(spec, library) == tmp_path / "lib" / folder
