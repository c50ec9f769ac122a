"""Compare uv-portable with the alternatives on the same input, in one run; print ratios.

Usage: uv run --with venv-pack python bench/run.py [--packages numpy pandas pyarrow]
Absolute times on a small machine are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import make_venv
from uv_portable.source import load_source


def timed(argv: list[str] | str, **kwargs: object) -> float:
    """Wall time of one command; fails loudly."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, shell=isinstance(argv, str), **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def best(n: int, fn: object) -> float:
    """Best of n runs (the least disturbed by the rest of the machine)."""
    return min(fn() for _ in range(n))  # type: ignore[operator]


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def drop(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def startup(python: Path, code: str, runs: int) -> float:
    """Median start-up time of `python -c code`."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(python), "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", nargs="+", default=["numpy", "pandas", "pyarrow"])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--startup-runs", type=int, default=30)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "uv_portable", "export"]
    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="uv-portable-bench-") as tmp:
        work = Path(tmp)
        venv = make_venv(work / "venv", args.python, args.packages)
        base = load_source(venv).base.prefix
        src_bytes = size(venv) + size(base)
        rows: list[tuple[str, float, int]] = []

        def run(label: str, out: Path, command: list[str] | str) -> float:
            def once() -> float:
                drop(out)
                return timed(command)

            seconds = best(args.repeat, once)
            rows.append((label, seconds, size(out)))
            return seconds

        cp_dest = work / "cp"
        cp = run(
            "cp -a (source venv + base prefix)",
            cp_dest,
            f"mkdir -p {cp_dest} && cp -a {venv} {cp_dest}/venv && cp -a {base} {cp_dest}/base",
        )
        export_dir = run(
            "uv-portable export (folder)", work / "env", [*cli, str(venv), str(work / "env")]
        )
        gz = run(
            "uv-portable export env.tar.gz",
            work / "env.tar.gz",
            [*cli, str(venv), str(work / "env.tar.gz")],
        )
        zst = run(
            "uv-portable export env.tar.zst",
            work / "env.tar.zst",
            [*cli, str(venv), str(work / "env.tar.zst")],
        )
        pigz = run(
            f"tar | pigz -p{threads} (exported tree)",
            work / "pigz.tar.gz",
            f"tar -cf - -C {work / 'env'} . | pigz -p{threads} > {work / 'pigz.tar.gz'}",
        )
        venv_pack_bin = shutil.which("venv-pack")
        vp = None
        if venv_pack_bin:
            vp = run(
                "venv-pack (no interpreter)",
                work / "vp.tar.gz",
                [venv_pack_bin, "-p", str(venv), "-o", str(work / "vp.tar.gz")],
            )
        code = "import numpy" if "numpy" in args.packages else "pass"
        start_src = startup(venv / "bin" / "python", code, args.startup_runs)
        start_out = startup(work / "env" / "bin" / "python", code, args.startup_runs)

    print(
        f"\nmachine: {platform.machine()}, {threads} cores, Python {platform.python_version()}, "
        f"packages: {' '.join(args.packages)}, source bytes {src_bytes / 1e6:.0f} MB\n"
    )
    print("| method | time (s) | output (MB) |")
    print("|---|---:|---:|")
    for label, seconds, nbytes in rows:
        print(f"| {label} | {seconds:.2f} | {nbytes / 1e6:.0f} |")
    gz_size = next(r[2] for r in rows if r[0].endswith("tar.gz"))
    pigz_size = next(r[2] for r in rows if r[0].startswith("tar | pigz"))
    print("\n| ratio | value | target |")
    print("|---|---:|---|")
    print(f"| folder export / cp -a | {export_dir / cp:.2f} | <= 1.5 |")
    print(f"| tar.gz export / tar+pigz | {gz / pigz:.2f} | <= 1.2 |")
    print(f"| tar.gz size / pigz size | {gz_size / pigz_size:.3f} | within 1.10 |")
    print(f"| tar.zst export / tar+pigz | {zst / pigz:.2f} | - |")
    if vp is not None:
        print(f"| venv-pack / tar.gz export | {vp / gz:.2f} | >= 3 |")
    print(f"| start-up `{code}`: exported / original | {start_out / start_src:.3f} | <= 1.05 |")


if __name__ == "__main__":
    main()
