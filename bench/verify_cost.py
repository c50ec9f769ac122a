"""What differential verification costs: the same export with and without it, in one run.

    uv run --frozen python bench/verify_cost.py [--packages numpy pandas pyarrow] [--runs 3]

Prints the ratio (export time with verification / with --no-verify) for a folder and a
.tar.gz export. Target: at most 1.25 (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import make_venv


def export_seconds(venv: Path, out: Path, *extra: str) -> float:
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "uv_portable", "export", str(venv), str(out), *extra],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", nargs="+", default=["numpy", "pandas", "pyarrow"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="uv-portable-bench-"))
    try:
        venv = make_venv(work / "venv", "3.12", args.packages)
        print(f"venv: managed-style CPython 3.12 + {' '.join(args.packages)}")
        for name in ("env", "env.tar.gz"):
            out = work / name
            export_seconds(venv, out)  # warm the page cache
            plain = min(export_seconds(venv, out, "--no-verify") for _ in range(args.runs))
            checked = min(export_seconds(venv, out) for _ in range(args.runs))
            print(
                f"{name:<11} --no-verify {plain:6.2f} s   verified {checked:6.2f} s   "
                f"ratio {checked / plain:.2f} (target <= 1.25)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
