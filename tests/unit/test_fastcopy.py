"""copy_file: content, permission bits and times, through each of the kernel's paths."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from uv_portable.write import fastcopy
from uv_portable.write.fastcopy import copy_file


@pytest.fixture(autouse=True)
def _fresh_path_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastcopy, "_no_reflink", set())
    monkeypatch.setattr(fastcopy, "_no_copy_range", set())


def _source(tmp_path: Path, size: int, mode: int = 0o751) -> Path:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(size))
    src.chmod(mode)
    os.utime(src, ns=(1_000_000_123, 1_500_000_000_000_000_456))
    return src


def _assert_same(src: Path, dest: Path) -> None:
    a, b = src.stat(), dest.stat()
    assert dest.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(b.st_mode) == stat.S_IMODE(a.st_mode)
    assert b.st_mtime_ns == a.st_mtime_ns
    assert b.st_ino != a.st_ino and b.st_nlink == 1  # a copy, never a link


@pytest.mark.parametrize("size", [0, 1, 65536, 5 * 1024 * 1024 + 3])
def test_copies_content_mode_and_times(tmp_path: Path, size: int) -> None:
    src = _source(tmp_path, size)
    assert copy_file(str(src), str(tmp_path / "dest")) == size
    _assert_same(src, tmp_path / "dest")


def test_read_only_source_mode_is_kept(tmp_path: Path) -> None:
    src = _source(tmp_path, 10, mode=0o444)
    copy_file(str(src), str(tmp_path / "dest"))
    _assert_same(src, tmp_path / "dest")


def test_never_overwrites(tmp_path: Path) -> None:
    src = _source(tmp_path, 10)
    (tmp_path / "dest").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        copy_file(str(src), str(tmp_path / "dest"))
    assert (tmp_path / "dest").read_bytes() == b"keep"


def _unsupported(*args: object) -> int:
    raise OSError(errno.EXDEV, "Invalid cross-device link")


def test_falls_back_to_sendfile_and_remembers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "copy_file_range", _unsupported)
    src = _source(tmp_path, 300_000)
    copy_file(str(src), str(tmp_path / "a"))
    _assert_same(src, tmp_path / "a")
    assert fastcopy._no_copy_range == {src.stat().st_dev}
    sent: list[int] = []
    real_sendfile = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        sent.append(count)
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting)
    monkeypatch.setattr(os, "copy_file_range", lambda *a: pytest.fail("not tried again"))
    copy_file(str(src), str(tmp_path / "b"))
    _assert_same(src, tmp_path / "b")
    assert sent and sent[0] == 300_000


def test_a_real_error_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full)
    with pytest.raises(OSError) as err:
        copy_file(str(_source(tmp_path, 10)), str(tmp_path / "dest"))
    assert err.value.errno == errno.ENOSPC
