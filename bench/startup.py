"""Start-up measurements: a Python command's median wall time, warm or cold, root or not."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

# A read-only target run by a non-root user (YARN, read-only volumes, non-root containers).
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
STDLIB_SET = (
    "import asyncio, email.message, http.client, json, decimal, argparse, logging, unittest"
)


def median_time(
    argv: Sequence[str], runs: int, *, warmup: int = 1, cwd: Path | None = None
) -> float:
    """Median wall time of a command over `runs` runs, after `warmup` unmeasured ones."""
    times = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    for i in range(warmup + runs):
        start = time.perf_counter()
        subprocess.run(list(argv), check=True, capture_output=True, cwd=cwd, env=env)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(a: Sequence[str], b: Sequence[str], runs: int) -> float:
    """Median time of command a over median time of b, runs interleaved (a busy machine
    drifts; interleaving exposes both commands to the same drift)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(2 * (runs + 1)):
        which = i % 2
        start = time.perf_counter()
        subprocess.run(list((a, b)[which]), check=True, capture_output=True, env=env)
        if i >= 2:  # the first of each warms the page cache (and a venv's pycs)
            times[which].append(time.perf_counter() - start)
    return statistics.median(times[0]) / statistics.median(times[1])


def python_argv(python: Path, code: str, *, nobody: bool = False) -> list[str]:
    """`python -c code`, as nobody when asked (files it cannot write stay unwritten)."""
    return [*(NOBODY if nobody else ()), str(python), "-c", code]


def unpack_public(archive: Path, dest: Path) -> Path:
    """Unpack an archive where nobody can read but not write (root-owned, 0755 folders; the
    caller makes dest's parents traversable)."""
    dest.mkdir(mode=0o755)
    subprocess.run(["tar", "-xf", str(archive), "-C", str(dest)], check=True)
    return dest


def pycache_dirs(tree: Path) -> int:
    """How many __pycache__ folders a tree holds (to show that a run wrote none)."""
    return sum(1 for _ in tree.rglob("__pycache__"))
