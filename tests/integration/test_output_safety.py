"""Output safety under crashes and races: leftovers of killed exports are cleaned by the next
run, two exports cannot both claim one output, and a symlink at the output is not followed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, cli
from tests.integration.test_bad_input import assert_clean_failure

USAGE = 2


def _export(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uv_portable", "export", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(
    ("name", "next_name"), [("env", "env"), ("env.tar.gz", "env.tar.gz"), ("env", "other.tar.gz")]
)
def test_kill_9_leftovers_are_removed_by_the_next_run(
    small_venv: Path, tmp_path: Path, name: str, next_name: str
) -> None:
    """Whatever the next export into the folder is called."""
    out = tmp_path / name
    proc = _export(str(small_venv), str(out), "--no-verify")
    deadline = time.monotonic() + 120
    while not _leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it write a little
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    left = _leftovers(tmp_path)
    assert left and all(".uv-portable-tmp" in n for n in left), left
    again = cli("export", str(small_venv), str(tmp_path / next_name), "--no-verify")
    assert again.returncode == 0, again.stderr
    assert "leftover(s) of earlier exports that were killed" in again.stderr
    assert _leftovers(tmp_path) == []


def test_a_running_export_s_staging_is_left_alone(small_venv: Path, tmp_path: Path) -> None:
    """Only leftovers whose owner is gone are removed."""
    mine = tmp_path / f".env.{os.getpid()}-00000000-abcd.uv-portable-tmp"
    mine.mkdir()
    from uv_portable.publish.output import remove_stale, temp_path

    ours = temp_path(tmp_path / "env")
    ours.mkdir()
    assert remove_stale(tmp_path) == 0
    assert mine.is_dir() and ours.is_dir()


@pytest.mark.parametrize("name", ["env", "env.tar.gz"])
def test_two_exports_cannot_both_claim_one_output(
    small_venv: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    first, second = (_export(str(small_venv), str(out), "--no-verify") for _ in range(2))
    results = [(p.wait(), p.communicate()[1]) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, USAGE], results
    loser = next(err for code, err in results if code == USAGE)
    assert (
        "appeared while exporting" in loser
        or "already exists" in loser
        or ("exists and is not empty" in loser)
    ), loser


@pytest.mark.parametrize("name", ["env", "env.tar.gz"])
def test_symlink_at_the_output_is_refused_without_force(
    small_venv: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    target = tmp_path / "elsewhere" / name
    out.symlink_to(target)  # dangling
    proc = cli("export", str(small_venv), str(out), "--no-verify")
    assert_clean_failure(proc, USAGE, "is a symlink")
    assert out.is_symlink() and not target.exists()
    proc = cli("export", str(small_venv), str(out), "--no-verify", "--force")
    assert proc.returncode == 0, proc.stderr
    assert not out.is_symlink() and out.exists() and not target.exists()
