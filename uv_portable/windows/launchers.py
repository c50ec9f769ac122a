"""Console-script launchers of Windows venvs: recognise them and point them at ``..\\python.exe``.

Three kinds exist: uv trampolines keeping the interpreter in an RCDATA resource (uv >= 0.10),
older uv trampolines with ``<zip><path><u32 length>UVSC`` appended, and pip/distlib launchers
(``t64.exe`` + ``#!interpreter`` line + zip).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from uv_portable.windows.pe import PeFormatError, read_rcdata, set_rcdata

UV_PATH_KEY = "UV_PYTHON_PATH"
UV_KIND_KEY = "UV_TRAMPOLINE_KIND"
_UV_MAGICS = (b"UVSC", b"UVPY")
_EOCD = b"PK\x05\x06"
# distlib's launcher replaces this token with the launcher's own folder.
LAUNCHER_DIR = "<launcher_dir>"
_DRIVE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


class LauncherError(Exception):
    """A launcher whose interpreter path cannot be read or rewritten."""


@dataclass(frozen=True)
class Launcher:
    """One console-script launcher and the interpreter it starts."""

    kind: str  # "uv-resource" | "uv-appended" | "distlib"
    python: str  # the interpreter path as stored (Windows syntax)

    @property
    def relative(self) -> bool:
        """Whether it finds the interpreter from its own folder, wherever that is."""
        if self.kind == "distlib":
            return self.python.startswith(LAUNCHER_DIR)
        return not _DRIVE.match(self.python) and not self.python.startswith(("\\", "/"))


# The interpreters of a venv's Scripts\ and of a base's root: python.exe, pythonw.exe and the
# free-threaded python3.14t.exe, pythonw3.14t.exe.
INTERPRETER_EXE = re.compile(r"^pythonw?(\d+\.\d+t)?\.exe$", re.IGNORECASE)
_FREE_THREADED_EXE = re.compile(r"^pythonw?\d+\.\d+t\.exe$")


def interpreter_name(path: str) -> str:
    """The interpreter a launcher should start at the export's root, from the basename of its
    stored path: python.exe or pythonw.exe, and a free-threaded python3.14t.exe or
    pythonw3.14t.exe kept as it is (a launcher of a 3.14t venv must not start the GIL build)."""
    name = re.split(r"[\\/]", path.strip('"'))[-1].lower()
    if _FREE_THREADED_EXE.match(name):
        return name
    return "pythonw.exe" if name.startswith("pythonw") else "python.exe"


def _distlib_split(data: bytes) -> tuple[int, int] | None:
    """(start of the shebang line, start of the zip) of a distlib launcher, or None."""
    end = data.rfind(_EOCD)
    if end < 0 or len(data) - end < 22:
        return None
    cd_size, cd_offset = struct.unpack("<II", data[end + 12 : end + 20])
    zip_start = end - cd_size - cd_offset
    if zip_start <= 0 or data[zip_start : zip_start + 4] != b"PK\x03\x04":
        return None
    shebang = data.rfind(b"#!", max(0, zip_start - 1024), zip_start)
    line = data[shebang:zip_start] if shebang >= 0 else b""
    # the shebang is the last line before the zip and names an interpreter; anything else is
    # an executable that merely carries a zip (left alone)
    if (
        not line.endswith(b"\n")
        or b"\n" in line[:-1].rstrip(b"\r")
        or b"python" not in line.lower()
    ):
        return None
    return shebang, zip_start


def _distlib_python(line: bytes) -> str:
    text = line[2:].decode("utf-8", errors="surrogateescape").strip()
    if text.startswith('"'):
        return text[1 : text.index('"', 1)] if '"' in text[1:] else text[1:]
    return text.split(" ", 1)[0]


def read_launcher(path: Path, data: bytes | None = None) -> Launcher | None:
    """The launcher at path, or None when the file is not a launcher (a plain exe)."""
    data = path.read_bytes() if data is None else data
    if data[-4:] in _UV_MAGICS:
        (length,) = struct.unpack("<I", data[-8:-4])
        if length > len(data) - 8:
            raise LauncherError(f"{path}: its appended interpreter path is truncated")
        raw = data[-8 - length : -8]
        return Launcher("uv-appended", raw.decode("utf-8", errors="surrogateescape"))
    try:
        resources = read_rcdata(data, str(path))
    except PeFormatError as exc:
        raise LauncherError(str(exc)) from exc
    if UV_KIND_KEY in resources or UV_PATH_KEY in resources:
        if UV_PATH_KEY not in resources:
            raise LauncherError(f"{path} is a uv trampoline without a {UV_PATH_KEY} resource")
        raw = resources[UV_PATH_KEY]
        try:
            return Launcher("uv-resource", raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise LauncherError(f"{path}: its {UV_PATH_KEY} resource is not UTF-8") from exc
    split = _distlib_split(data)
    if split is None:
        return None
    start, zip_start = split
    return Launcher("distlib", _distlib_python(data[start:zip_start]))


def retarget(path: Path, launcher: Launcher, data: bytes | None = None) -> bytes:
    """The launcher's bytes, starting the interpreter in the folder above its own."""
    data = path.read_bytes() if data is None else data
    name = interpreter_name(launcher.python)
    if launcher.kind == "uv-resource":
        try:
            return set_rcdata(path, UV_PATH_KEY, f"..\\{name}".encode())
        except PeFormatError as exc:
            raise LauncherError(str(exc)) from exc
    if launcher.kind == "uv-appended":
        new = f"..\\{name}".encode()
        (length,) = struct.unpack("<I", data[-8:-4])
        return data[: -8 - length] + new + struct.pack("<I", len(new)) + data[-4:]
    split = _distlib_split(data)
    if split is None:
        raise LauncherError(f"{path}: cannot find its shebang line")
    start, zip_start = split
    line = f"#!{LAUNCHER_DIR}\\..\\{name}\r\n".encode()
    return data[:start] + line + data[zip_start:]
