"""Recognise a Windows venv and find its base CPython (``home``, or ``--base`` from another OS)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from uv_portable.errors import SourceError, UsageError
from uv_portable.model import Interpreter, SourceEnv
from uv_portable.source.venv import read_cpython_cfg
from uv_portable.windows.pe import PeFormatError, read_pe

MIN_VERSION = (3, 9)
_HINT_CREATE = "create it with `uv venv --relocatable` and install into it with `uv pip install`"
_ACTIVATE_HOME = re.compile(r'^@for %%i in \("(?P<venv>[^"%]+)"\) do @set "VIRTUAL_ENV=', re.M)


@dataclass(frozen=True)
class WindowsVenv:
    """A Windows venv as read from disk, with its base install located on this machine."""

    source: SourceEnv  # base.platform == "windows", base.prefix = the install's root folder
    full_copy: bool  # Scripts\python.exe is a copy of the interpreter (uv did this), no launcher
    build_paths: tuple[str, ...]  # Windows paths of the venv and base where they were made

    @property
    def nodot(self) -> str:
        """The version without dot, as in python312.dll."""
        major, minor, _ = self.source.base.version
        return f"{major}{minor}"


def is_windows_venv(path: Path) -> bool:
    """Whether path looks like a Windows venv (pyvenv.cfg, Scripts\\python.exe, Lib)."""
    return (
        (path / "pyvenv.cfg").is_file()
        and (path / "Scripts" / "python.exe").is_file()
        and (path / "Lib" / "site-packages").is_dir()
    )


def _version(values: dict[str, str], cfg_file: Path) -> tuple[int, int, int]:
    match = re.match(
        r"(\d+)\.(\d+)(?:\.(\d+))?", values.get("version_info") or values.get("version") or ""
    )
    if match is None:
        raise SourceError(f"{cfg_file} names no Python version", _HINT_CREATE)
    version = (int(match[1]), int(match[2]), int(match[3] or 0))
    if version[:2] < MIN_VERSION:
        raise SourceError(
            f"{cfg_file.parent} uses Python {'.'.join(map(str, version))}; the minimum is 3.9",
            "recreate the venv with Python 3.9 or newer",
        )
    return version


def _machine(exe: Path) -> str:
    try:
        machine = read_pe(exe).machine
    except PeFormatError as exc:
        raise SourceError(str(exc), "recreate the venv; its interpreter is damaged") from exc
    if machine != "x64":
        label = {"x86": "32-bit (win32)", "arm64": "ARM64"}.get(machine, machine)
        raise SourceError(
            f"{exe} is a {label} interpreter; uv-portable exports 64-bit x86 (win_amd64) "
            "Windows venvs only, for now",
            "recreate the venv with a 64-bit x86 CPython "
            "(`uv venv --python cpython-3.12-windows-x86_64-none`)",
        )
    return machine


def base_files(
    values: dict[str, str], version: tuple[int, int, int], prefix: Path
) -> tuple[str, str, bool]:
    """The base's interpreter and DLL names, and whether it is free-threaded: python.exe and
    python314.dll, or python3.14t.exe and python314t.dll when the venv was made with that one
    (pyvenv.cfg's ``executable``) or the base has no other (virtualenv#3021)."""
    xy, nodot = f"{version[0]}.{version[1]}", f"{version[0]}{version[1]}"
    made_with = re.split(r"[\\/]", values.get("executable", ""))[-1].lower()
    free_threaded = made_with in (f"python{xy}t.exe", f"pythonw{xy}t.exe") or (
        not (prefix / "python.exe").is_file() and (prefix / f"python{xy}t.exe").is_file()
    )
    if free_threaded:
        return f"python{xy}t.exe", f"python{nodot}t.dll", True
    return "python.exe", f"python{nodot}.dll", False


def _base_prefix(home: str, base: Path | None) -> Path:
    if base is not None:
        return Path(os.path.abspath(base))
    if os.name == "nt":
        return Path(home)
    raise UsageError(
        f"the venv's base interpreter is a Windows path (home = {home}), which means nothing here",
        "pass --base PATH (or set `base` in [tool.uv-portable]): the folder of that Windows "
        "CPython install (with python.exe, Lib\\ and DLLs\\) as seen from this machine",
    )


def _windows_paths(venv: Path, home: str) -> tuple[str, ...]:
    """Where the venv and its base lived when they were made (to find leftovers)."""
    paths = {home.rstrip("\\/")}
    bat = venv / "Scripts" / "activate.bat"
    if bat.is_file():
        match = _ACTIVATE_HOME.search(bat.read_text(encoding="utf-8", errors="replace"))
        if match:
            paths.add(match["venv"].rstrip("\\/"))
    return tuple(sorted(p for p in paths if len(p) > 3))


def load_windows_venv(path: Path, base: Path | None = None) -> WindowsVenv:
    """Read a Windows venv and locate its base install; raise SourceError if unusable."""
    venv = Path(os.path.abspath(path))
    cfg_file = venv / "pyvenv.cfg"
    cfg = read_cpython_cfg(venv)
    values = dict(cfg)
    version = _version(values, cfg_file)
    venv_python = venv / "Scripts" / "python.exe"
    _machine(venv_python)
    home = values.get("home", "")
    if not home:
        raise SourceError(f"{cfg_file} has no `home` key", _HINT_CREATE)
    prefix = _base_prefix(home, base)
    exe_name, dll, free_threaded = base_files(values, version, prefix)
    executable = prefix / exe_name
    if not executable.is_file() or not (prefix / dll).is_file():
        where = f"--base {prefix}" if base is not None else f"home = {home}"
        raise SourceError(
            f"the base interpreter of {venv} is gone: {where} has no {exe_name} and {dll}",
            f"reinstall CPython {version[0]}.{version[1]} there, or pass --base with its folder",
        )
    if not any((prefix / "Lib" / n).is_file() for n in ("os.py", "os.pyc")):
        raise SourceError(
            f"the base interpreter {executable} has no standard library at {prefix / 'Lib'}",
            "uv-portable needs an installed CPython layout (python.org installer, uv-managed)",
        )
    _machine(executable)
    try:
        full_copy = any(name.lower() == dll for name in read_pe(venv_python).imports)
    except PeFormatError as exc:
        raise SourceError(str(exc), "recreate the venv") from exc
    interpreter = Interpreter(
        prefix=prefix,
        executable=executable,
        version=version,
        implementation="CPython",
        platform="windows",
        libdir_name="Lib",
        free_threaded=free_threaded,
    )
    source = SourceEnv(path=venv, real_path=venv.resolve(), cfg=cfg, base=interpreter)
    return WindowsVenv(source, full_copy, _windows_paths(venv, home))
