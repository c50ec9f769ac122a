"""Archive outputs: bad input and failures leave nothing behind."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.helpers import WITHOUT_DAC, cli
from tests.integration.test_bad_input import USAGE, assert_clean_failure, assert_nothing_written
from uv_portable import api
from uv_portable.errors import UvPortableError


@pytest.mark.parametrize("name", ["env.tar.bz2", "env.7z", "env.tar.xz"])
def test_unsupported_suffix(small_venv: Path, tmp_path: Path, name: str) -> None:
    proc = cli("export", str(small_venv), str(tmp_path / name))
    assert_clean_failure(proc, USAGE, "unsupported archive type")
    assert_nothing_written(tmp_path)


def test_unknown_format_option(small_venv: Path, tmp_path: Path) -> None:
    proc = cli("export", str(small_venv), str(tmp_path / "env"), "--format", "rar")
    assert_clean_failure(proc, USAGE, "--format: expected one of dir, tar, tar.gz")


@pytest.mark.parametrize(
    ("name", "fmt"), [("env.tar.gz", "zip"), ("env.zip", "tar.gz"), ("env.tar.gz", "dir")]
)
def test_format_that_contradicts_the_name_is_refused(
    small_venv: Path, tmp_path: Path, name: str, fmt: str
) -> None:
    """Spark and most unpackers choose by the suffix: a zip named .tar.gz would not unpack."""
    proc = cli("export", str(small_venv), str(tmp_path / name), "--format", fmt)
    assert_clean_failure(proc, USAGE, f"format {fmt} contradicts the name {name}")
    assert_nothing_written(tmp_path)


def test_format_option_overrides_suffix(small_venv: Path, tmp_path: Path) -> None:
    proc = cli("export", str(small_venv), str(tmp_path / "env.bin"), "--format", "tar.gz")
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(tmp_path / "env.bin", "r:gz") as tar:
        assert "bin/python" in tar.getnames()


def test_existing_archive_needs_force(small_venv: Path, tmp_path: Path) -> None:
    target = tmp_path / "env.tar.gz"
    target.write_bytes(b"old")
    proc = cli("export", str(small_venv), str(target))
    assert_clean_failure(proc, USAGE, "already exists")
    assert target.read_bytes() == b"old"
    proc = cli("export", str(small_venv), str(target), "--force")
    assert proc.returncode == 0, proc.stderr
    assert tarfile.is_tarfile(target)
    assert_nothing_written(tmp_path, keep=("env.tar.gz",))


def test_archive_inside_source(small_venv: Path) -> None:
    proc = cli("export", str(small_venv), str(small_venv / "env.tar.gz"))
    assert_clean_failure(proc, USAGE, "is inside the source")
    assert not (small_venv / "env.tar.gz").exists()


def test_output_folder_missing_is_created(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "env.tar.gz"
    proc = cli("export", str(small_venv), str(out), "--no-verify")
    assert proc.returncode == 0, proc.stderr
    assert tarfile.is_tarfile(out)


def test_output_folder_read_only(small_venv: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    proc = cli("export", str(small_venv), str(folder / "env.tar.gz"), prefix=WITHOUT_DAC)
    assert_clean_failure(proc, USAGE, "is not writable")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_writing_leaves_nothing(
    small_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    calls = {"n": 0}
    real = tarfile.TarFile.addfile

    def failing(self: tarfile.TarFile, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 200:
            raise exc
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tarfile.TarFile, "addfile", failing)
    dest = tmp_path / "env.tar.gz"
    with pytest.raises((UvPortableError, KeyboardInterrupt)):
        api.export(small_venv, dest)
    assert calls["n"] == 200
    assert_nothing_written(tmp_path)


def test_progress_bar_only_on_a_terminal(small_venv: Path, tmp_path: Path) -> None:
    import os
    import shlex
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "uv_portable",
            "export",
            str(small_venv),
            str(tmp_path / "tty.tar.gz"),
        ]
    )
    proc = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    assert "writing tty.tar.gz" in proc.stdout or "copying" in proc.stdout
    assert "exported" in proc.stdout
    quiet = cli("export", str(small_venv), str(tmp_path / "pipe.tar.gz"))
    assert quiet.returncode == 0
    assert "copying" not in quiet.stderr and "writing pipe" not in quiet.stderr
    # the summary lines only: notes (libraries, bytecode, the source's import baseline reused
    # from the cache by this second export), result, verified, host needs, glibc
    lines = quiet.stderr.splitlines()
    assert len(lines) <= 7 and all(ln.startswith("uv-portable: ") for ln in lines), lines
