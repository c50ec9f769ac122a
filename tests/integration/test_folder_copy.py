"""Folder exports are copies: no file shares an inode with the source, and copied files
keep their content, mode and mtime."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers import cli
from uv_portable.source.venv import load_source


def _inodes(root: Path) -> dict[tuple[int, int], Path]:
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if stat.S_ISREG(st.st_mode):
                found[(st.st_dev, st.st_ino)] = Path(folder, name)
    return found


def test_folder_export_never_links_to_the_source(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "env"
    proc = cli("export", str(small_venv), str(out), "--no-compile")
    assert proc.returncode == 0, proc.stderr
    base = load_source(small_venv).base.prefix
    shared = set(_inodes(out)) & (set(_inodes(small_venv)) | set(_inodes(base)))
    assert shared == set()
    src = small_venv / "lib" / "python3.12" / "site-packages" / "cowsay" / "__init__.py"
    dest = out / "lib" / "python3.12" / "site-packages" / "cowsay" / "__init__.py"
    a, b = src.stat(), dest.stat()
    assert (b.st_mtime_ns, b.st_mode) == (a.st_mtime_ns, a.st_mode)
    assert dest.read_bytes() == src.read_bytes()
