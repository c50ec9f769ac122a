"""Interrupts tell the truth: exit 130 exactly when no output appeared, exit 0 exactly when a
complete output did, and never a staging folder left, wherever in an export Ctrl-C lands."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

# Fractions of an uninterrupted export's time at which Ctrl-C is sent.
MOMENTS = (0.0, 0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)


def _start(src: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uv_portable", "export", str(src), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        # A job started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _assert_truthful(proc: subprocess.Popen[str], folder: Path, out: Path) -> str:
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    left = sorted(p.name for p in folder.iterdir() if p.name != out.name)
    assert left == [], (left, stderr)  # no staging folder, whatever the outcome
    if proc.returncode == -signal.SIGINT:  # before Python started: it wrote nothing either
        assert not out.exists(), stderr
        return "interrupted"
    if proc.returncode == 130:
        assert not out.exists(), stderr
        assert "nothing was written" in stderr
        return "interrupted"
    assert proc.returncode == 0, stderr
    assert (out / "share" / "uv-portable" / "manifest.json").is_file(), stderr
    assert (out / "bin" / "python").exists()
    assert "nothing was written" not in stderr
    return "completed"


def test_ctrl_c_anywhere_in_an_export(small_venv: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    probe = _start(small_venv, tmp_path / "timing" / "out")
    assert probe.wait(timeout=300) == 0, probe.communicate()
    duration = time.monotonic() - started
    outcomes = []
    for i, moment in enumerate(MOMENTS):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        out = folder / "out"
        proc = _start(small_venv, out)
        time.sleep(duration * moment)
        proc.send_signal(signal.SIGINT)
        outcomes.append(_assert_truthful(proc, folder, out))
    assert "interrupted" in outcomes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_just_after_publishing_keeps_the_export(
    small_venv: Path, tmp_path: Path, sig: int
) -> None:
    """The output is complete the moment it appears: exit 0 and the summary, not 130."""
    out = tmp_path / "out"
    proc = _start(small_venv, out)
    deadline = time.monotonic() + 300
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(sig)
    assert _assert_truthful(proc, tmp_path, out) == "completed"
