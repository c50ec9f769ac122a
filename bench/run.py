"""Compare uv-portable with the alternatives on the same input, in one run; print ratios.

Usage: uv run --with venv-pack python bench/run.py [--packages numpy pandas pyarrow]
Absolute times on a small machine are noise; the ratios are the result. Run as root: the
cold-start rows run the unpacked archive as `nobody` (setpriv) on a tree it cannot write.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.startup import (
    STDLIB_SET,
    median_time,
    paired,
    pycache_dirs,
    python_argv,
    unpack_public,
)
from tests.helpers import REPO, make_venv
from uv_portable.source.venv import load_source

Command = list[str] | str


def timed(argv: Command) -> float:
    """Wall time of one command; fails loudly."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, shell=isinstance(argv, str))
    return time.perf_counter() - start


def size(path: Path) -> int:
    """Bytes of a file, or of the regular files below a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def drop(path: Path) -> None:
    """Remove a previous output."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


class Row(NamedTuple):
    """One command of an interleaved table: what it writes, and what runs untimed before it."""

    label: str
    out: Path
    command: Command
    setup: Callable[[], None] | None = None


class Table:
    """Rows of (label, seconds, output bytes), each the best of `repeat` runs."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.rows: list[tuple[str, float, int]] = []

    def run(self, label: str, out: Path, command: Command) -> float:
        """Time a command that writes out; keep the last output."""
        best = float("inf")
        for _ in range(self.repeat):
            drop(out)
            best = min(best, timed(command))
        self.rows.append((label, best, size(out)))
        return best

    def interleaved(self, rows: Sequence[Row]) -> dict[str, float]:
        """Run the rows in turn, `repeat` rounds (so that all meet the same page cache and
        writeback state: a copy's time here varies 4x with what the kernel is still flushing),
        each after its untimed setup; keep and return the medians by label."""
        times: dict[str, list[float]] = {row.label: [] for row in rows}
        for _ in range(self.repeat):
            for row in rows:
                drop(row.out)
                if row.setup is not None:
                    row.setup()
                times[row.label].append(timed(row.command))
        medians = {label: statistics.median(runs) for label, runs in times.items()}
        for row in rows:
            self.rows.append((row.label, medians[row.label], size(row.out)))
        return medians

    def size_of(self, label: str) -> int:
        """The output size of a row."""
        return next(r[2] for r in self.rows if r[0] == label)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", nargs="+", default=["numpy", "pandas", "pyarrow"])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=15)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "uv_portable"]
    threads = os.cpu_count() or 1
    ratios: list[tuple[str, float, str]] = []
    work = Path(tempfile.mkdtemp(prefix="uv-portable-bench-"))
    work.chmod(0o755)  # the cold-start runs read the unpacked tree as nobody
    try:
        venv = make_venv(work / "venv", args.python, args.packages)
        base = load_source(venv).base.prefix
        src_bytes = size(venv) + size(base)
        t = Table(args.repeat)
        cp_dest = work / "cp"
        copy = f"mkdir -p {cp_dest} && cp -a {venv} {cp_dest}/venv && cp -a {base} {cp_dest}/base"
        cache = work / "cache"
        export = [*cli, "export", str(venv), "--cache-dir", str(cache)]

        def empty_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        def exp(label: str, out: str, *extra: str, cold: bool = False) -> Row:
            return Row(
                label, work / out, [*export, str(work / out), *extra], empty_cache if cold else None
            )

        pigz_label = f"tar | pigz -p{threads} -3 (exported tree)"
        pigz_command = (
            f"tar -cf - -C {work / 'env'} . | pigz -3 -p{threads} > {work / 'pigz.tar.gz'}"
        )
        rows = [
            Row("cp -a (source venv + base prefix)", cp_dest, copy),
            exp("folder, cold cache", "env-cold", cold=True),
            exp("folder, warm", "env"),
            exp("folder --no-verify, warm", "env-nv", "--no-verify"),
            exp("folder --no-compile, warm", "env-nc", "--no-compile"),
            Row(pigz_label, work / "pigz.tar.gz", pigz_command),
            exp("tar.gz, cold cache", "cold.tar.gz", cold=True),
            exp("tar.gz, warm", "env.tar.gz"),
            exp("tar.gz --no-verify, warm", "nv.tar.gz", "--no-verify"),
            exp("tar.gz --no-compile, warm", "nc.tar.gz", "--no-compile"),
        ]
        venv_pack_bin = shutil.which("venv-pack")
        if venv_pack_bin:
            vp_out = work / "vp.tar.gz"
            rows.append(
                Row(
                    "venv-pack (no interpreter)",
                    vp_out,
                    [venv_pack_bin, "-p", str(venv), "-o", str(vp_out)],
                )
            )
        m = t.interleaved(rows)
        cp, pigz = m["cp -a (source venv + base prefix)"], m[pigz_label]
        nc_gz = work / "nc.tar.gz"
        ratios += [
            ("folder, warm / cp -a", m["folder, warm"] / cp, "<= 2.0"),
            ("folder --no-verify, warm / cp -a", m["folder --no-verify, warm"] / cp, "<= 1.3"),
            ("folder, cold cache / cp -a", m["folder, cold cache"] / cp, "<= 3"),
            ("folder --no-compile, warm / cp -a", m["folder --no-compile, warm"] / cp, "-"),
            ("tar.gz, warm / tar | pigz", m["tar.gz, warm"] / pigz, "<= 1.0"),
            ("tar.gz --no-verify, warm / tar | pigz", m["tar.gz --no-verify, warm"] / pigz, "-"),
            ("tar.gz, cold cache / tar | pigz", m["tar.gz, cold cache"] / pigz, "-"),
            ("tar.gz --no-compile, warm / tar | pigz", m["tar.gz --no-compile, warm"] / pigz, "-"),
            (
                "tar.gz size / pigz size",
                t.size_of("tar.gz, warm") / t.size_of(pigz_label),
                "<= 1.10",
            ),
        ]
        if venv_pack_bin:
            vp = m["venv-pack (no interpreter)"]
            ratios.append(("venv-pack / tar.gz, warm", vp / m["tar.gz, warm"], ">= 1.0"))

        runs = args.startup_runs
        src_python = venv / "bin" / "python"
        code = "import numpy" if "numpy" in args.packages else "pass"
        exported = python_argv(work / "env" / "bin" / "python", code)
        ratios.append(
            (
                f"start-up `{code}`: exported folder / source venv",
                paired(exported, python_argv(src_python, code), runs),
                "<= 1.05",
            )
        )
        cold = unpack_public(work / "env.tar.gz", work / "cold")
        cold_nc = unpack_public(nc_gz, work / "cold-nc")
        pycaches = pycache_dirs(cold), pycache_dirs(cold_nc)
        heavy = "import pandas, pyarrow" if {"pandas", "pyarrow"} <= set(args.packages) else code
        for label, snippet in (("`" + heavy + "`", heavy), ("stdlib set", STDLIB_SET)):
            warm = python_argv(src_python, snippet)  # its first run writes the venv's pycs
            fresh = python_argv(cold / "bin" / "python", snippet, nobody=True)
            stale = python_argv(cold_nc / "bin" / "python", snippet, nobody=True)
            ratios.append(
                (
                    f"cold start {label}, read-only, nobody / source warm",
                    paired(fresh, warm, runs),
                    "<= 1.1",
                )
            )
            ratios.append(
                ("  same, --no-compile export / source warm", paired(stale, warm, runs), "(before)")
            )
        written = pycache_dirs(cold) + pycache_dirs(cold_nc) - sum(pycaches)
        check = median_time([*cli, "config", "--check"], runs, cwd=REPO)
        helps = median_time([*cli, "--help"], runs, cwd=REPO)
        version = median_time([*cli, "--version"], runs, cwd=REPO)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nmachine: {platform.machine()}, {threads} cores, Python {platform.python_version()}, "
        f"packages: {' '.join(args.packages)}, source bytes {src_bytes / 1e6:.0f} MB\n"
    )
    print("| method | time (s) | output (MB) |")
    print("|---|---:|---:|")
    for label, seconds, nbytes in t.rows:
        print(f"| {label} | {seconds:.2f} | {nbytes / 1e6:.0f} |")
    print("\n| ratio | value | target |")
    print("|---|---:|---|")
    for label, value, target in ratios:
        print(f"| {label} | {value:.2f} | {target} |")
    print("\n| CLI start (median) | ms | target |")
    print("|---|---:|---|")
    print(f"| `config --check` | {check * 1000:.0f} | <= 150 |")
    print(f"| `--help` | {helps * 1000:.0f} | <= 150 |")
    print(f"| `--version` | {version * 1000:.0f} | <= 150 |")
    print(f"\n__pycache__ folders the read-only cold runs added: {written}")


if __name__ == "__main__":
    main()
