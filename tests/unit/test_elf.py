"""The fast ELF reader agrees with pyelftools on every ELF file of real trees."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import PYENV_ROOT
from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.elf import _read_fast, is_elf, read_elf, read_elf_pyelftools


def elf_files() -> list[Path]:
    roots = [
        Path(sys.prefix) / "lib",
        *sorted((PYENV_ROOT / "versions").glob("3.1*"))[:1],
        Path("/usr/lib/x86_64-linux-gnu"),
    ]
    found: list[Path] = []
    for root in roots:
        for path in sorted(root.rglob("*.so*"))[:400]:
            if path.is_file() and not path.is_symlink() and is_elf(path):
                found.append(path)
    return found


def test_fast_reader_matches_pyelftools() -> None:
    files = elf_files()
    assert len(files) > 100
    for path in files:
        assert read_elf(path) == read_elf_pyelftools(path), path


def test_versions_and_runpath_are_read() -> None:
    exe = next((PYENV_ROOT / "versions").glob("3.12.*")) / "bin" / "python3.12"
    info = read_elf(exe)
    assert info.machine == "EM_X86_64" and info.elf_class == 64
    assert info.needed[0].startswith("libpython3.12")
    assert info.runpath is not None and info.runpath[0].endswith("/lib")
    assert any(v.startswith("GLIBC_2.") for _, v in info.version_needs)


@pytest.mark.parametrize("data", [b"", b"\x7fELF", b"\x7fELF" + b"\x02\x01" + b"\0" * 10])
def test_truncated_files_are_left_to_pyelftools(data: bytes, tmp_path: Path) -> None:
    assert _read_fast(data) is None
    broken = tmp_path / "libbroken.so"
    broken.write_bytes(data)
    if data:
        with pytest.raises(BinaryFormatError, match=r"libbroken\.so: not a readable ELF file"):
            read_elf(broken)
