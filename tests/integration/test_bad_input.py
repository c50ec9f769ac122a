"""Bad input: one line saying what is wrong, a hint, a distinct exit code, nothing written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, WITHOUT_DAC, cli, on_small_tmpfs, pip_install, tree_digest, uv_env

USAGE, SOURCE, REFUSED, IO, INTERRUPTED = 2, 4, 5, 6, 130


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    error_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("uv-portable: error:")]
    assert len(error_lines) == 1, proc.stderr
    assert words in error_lines[0], proc.stderr
    assert "hint:" in proc.stderr


def assert_nothing_written(parent: Path, keep: tuple[str, ...] = ()) -> None:
    leftovers = sorted(p.name for p in parent.iterdir() if p.name not in keep)
    assert leftovers == [], leftovers


def fake_venv(path: Path, cfg: str, link: str | None = None) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(cfg)
    if link:
        os.symlink(link, path / "bin" / "python")
    return path


def test_source_missing(tmp_path: Path) -> None:
    proc = cli("export", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert_clean_failure(proc, SOURCE, "does not exist")
    assert_nothing_written(tmp_path)


def test_source_not_a_venv(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    proc = cli("export", str(tmp_path / "plain"), str(tmp_path / "out"))
    assert_clean_failure(proc, SOURCE, "is not a virtual environment")
    assert_nothing_written(tmp_path, keep=("plain",))


def test_base_interpreter_gone(tmp_path: Path) -> None:
    venv = fake_venv(
        tmp_path / "venv", "home = /gone/bin\nversion_info = 3.12.1\n", "/gone/bin/python3.12"
    )
    proc = cli("export", str(venv), str(tmp_path / "out"))
    assert_clean_failure(proc, SOURCE, "base interpreter")
    assert_nothing_written(tmp_path, keep=("venv",))


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        ("home = /x/bin\nimplementation = PyPy\nversion_info = 3.10.14\n", "CPython only"),
        ("home = /x/bin\nimplementation = CPython\nversion_info = 3.8.18\n", "minimum is 3.9"),
    ],
)
def test_unsupported_interpreter(tmp_path: Path, cfg: str, words: str) -> None:
    venv = fake_venv(tmp_path / "venv", cfg)
    proc = cli("export", str(venv), str(tmp_path / "out"))
    assert_clean_failure(proc, SOURCE, words)


def test_output_inside_source(small_venv: Path) -> None:
    before = tree_digest(small_venv)
    proc = cli("export", str(small_venv), str(small_venv / "lib" / "out"))
    assert_clean_failure(proc, USAGE, "is inside the source")
    assert tree_digest(small_venv) == before


def test_source_inside_output(small_venv_copy: Path) -> None:
    proc = cli("export", str(small_venv_copy), str(small_venv_copy.parent))
    assert_clean_failure(proc, USAGE, "is inside the output")


def test_output_not_empty_needs_force(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    proc = cli("export", str(small_venv), str(out))
    assert_clean_failure(proc, USAGE, "exists and is not empty")
    assert (out / "precious.txt").read_text() == "keep me"
    assert_nothing_written(tmp_path, keep=("out",))


def test_force_refuses_a_folder_of_the_users_own_files(small_venv: Path, tmp_path: Path) -> None:
    """--force replaces a file, an empty folder or an earlier export, never other folders."""
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "precious.txt").write_text("keep me")
    (out / "sub" / "notes.txt").write_text("and me")
    proc = cli("export", str(small_venv), str(out), "--force")
    assert_clean_failure(proc, USAGE, "did not make")
    assert str(out) in proc.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "precious.txt",
        "sub",
        "sub/notes.txt",
    ]
    assert_nothing_written(tmp_path, keep=("out",))


def test_force_replaces_an_earlier_export(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("export", str(small_venv), str(out), "--no-verify").returncode == 0
    (out / "stray.txt").write_text("from the earlier export's user")
    proc = cli("export", str(small_venv), str(out), "--force", "--no-verify")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "stray.txt").exists()
    assert (out / "bin" / "python").exists()
    assert_nothing_written(tmp_path, keep=("out",))


def test_empty_output_folder_is_accepted(small_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    proc = cli("export", str(small_venv), str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr


def test_missing_output_parents_are_created(small_venv: Path, tmp_path: Path) -> None:
    """As `uv build -o` does: the README's `export .venv out/env` works in a fresh folder."""
    out = tmp_path / "no" / "such" / "out"
    proc = cli("export", str(small_venv), str(out), "--no-verify")
    assert proc.returncode == 0, proc.stderr
    assert (out / "bin" / "python").exists()


def test_output_parent_that_cannot_be_made(small_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    proc = cli("export", str(small_venv), str(tmp_path / "file" / "out"))
    assert_clean_failure(proc, USAGE, "is not a folder")
    assert_nothing_written(tmp_path, keep=("file",))


def test_editable_install_is_refused(small_venv_copy: Path, tmp_path: Path) -> None:
    project = tmp_path / "mylib"
    (project / "mylib").mkdir(parents=True)
    (project / "mylib" / "__init__.py").write_text("X = 1\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "mylib"\nversion = "0.1"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    python = str(small_venv_copy / "bin" / "python")
    pip_install(python, [], local=["-e", str(project)], env=uv_env())
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, "editable installs cannot be exported: mylib")
    assert "uv sync --no-editable" in proc.stderr
    assert "UV_NO_EDITABLE=1" in proc.stderr and "uv-portable build" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_file_in_source(small_venv_copy: Path, tmp_path: Path) -> None:
    secret = next(
        (small_venv_copy / "lib" / "python3.12" / "site-packages" / "cowsay").glob("*.py")
    )
    secret.chmod(0)
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"), prefix=WITHOUT_DAC)
    assert_clean_failure(proc, IO, "permission denied")
    assert secret.name in proc.stderr
    assert_nothing_written(tmp_path, keep=("venv",))


def test_disk_full_leaves_nothing(small_venv: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    export = ["export", str(small_venv), f"{disk}/out"]
    proc = on_small_tmpfs(disk, "8m", export, after=f"ls -A {disk}")
    assert f"rc={IO}" in proc.stdout, (proc.stdout, proc.stderr)
    assert proc.stdout.strip().endswith(f"rc={IO}"), "files were left on the full disk"
    assert "no space left" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_export_leaves_nothing(small_venv: Path, tmp_path: Path, sig: int) -> None:
    before = tree_digest(small_venv)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uv_portable", "export", str(small_venv), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        # A job started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.*")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert_nothing_written(tmp_path)
    assert tree_digest(small_venv) == before
