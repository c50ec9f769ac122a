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
from pathlib import Path

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
from uv_portable.source import load_source

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

    def paired(
        self, a: tuple[str, Path, Command], b: tuple[str, Path, Command]
    ) -> tuple[float, float]:
        """Run two commands alternately `repeat` times each (so that both meet the same page
        cache and writeback state: a copy's time here varies 4x with what the kernel is still
        flushing); keep and return the medians."""
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(self.repeat):
            for (_, out, command), runs in zip((a, b), times):
                drop(out)
                runs.append(timed(command))
        medians = statistics.median(times[0]), statistics.median(times[1])
        for (label, out, _), median in zip((a, b), medians):
            self.rows.append((label, median, size(out)))
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
        export = [*cli, "export", str(venv)]
        folder, cp = t.paired(
            ("uv-portable export (folder)", work / "env", [*export, str(work / "env")]),
            ("cp -a (source venv + base prefix)", cp_dest, copy),
        )
        folder_nc = t.run(
            "uv-portable export --no-compile (folder)",
            work / "env-nc",
            [*export, str(work / "env-nc"), "--no-compile"],
        )
        pigz_command = (
            f"tar -cf - -C {work / 'env'} . | pigz -3 -p{threads} > {work / 'pigz.tar.gz'}"
        )
        gz, pigz = t.paired(
            (
                "uv-portable export env.tar.gz",
                work / "env.tar.gz",
                [*export, str(work / "env.tar.gz")],
            ),
            (f"tar | pigz -p{threads} -3 (exported tree)", work / "pigz.tar.gz", pigz_command),
        )
        zst = t.run(
            "uv-portable export env.tar.zst",
            work / "env.tar.zst",
            [*export, str(work / "env.tar.zst")],
        )
        nc_gz = work / "nc.tar.gz"
        gz_nc = t.run(
            "uv-portable export env.tar.gz --no-compile",
            nc_gz,
            [*export, str(nc_gz), "--no-compile"],
        )
        # The recommended source: a venv installed with pycs (uv --compile-bytecode), whose valid
        # pycs an export re-heads instead of recompiling.
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j0", str(venv / "lib")],
            check=True,
            capture_output=True,
        )
        cp_c = t.run(
            "cp -a (venv with pycs + base prefix)",
            cp_dest,
            f"mkdir -p {cp_dest} && cp -a {venv} {cp_dest}/venv && cp -a {base} {cp_dest}/base",
        )
        folder_c = t.run(
            "uv-portable export (folder) of the venv with pycs",
            work / "env-c",
            [*export, str(work / "env-c")],
        )
        gz_c = t.run(
            "uv-portable export env.tar.gz of the venv with pycs",
            work / "env-c.tar.gz",
            [*export, str(work / "env-c.tar.gz")],
        )
        venv_pack_bin = shutil.which("venv-pack")
        if venv_pack_bin:
            vp = t.run(
                "venv-pack (no interpreter)",
                work / "vp.tar.gz",
                [venv_pack_bin, "-p", str(venv), "-o", str(work / "vp.tar.gz")],
            )
            ratios.append(("venv-pack / tar.gz export", vp / gz, ">= 3"))

        ratios += [
            ("folder export / cp -a (interleaved runs)", folder / cp, "<= 1.2"),
            ("folder export --no-compile / cp -a", folder_nc / cp, "<= 1.2"),
            ("folder export of the venv with pycs / cp -a of it", folder_c / cp_c, "<= 1.2"),
            ("tar.gz export / tar + pigz (same level, interleaved runs)", gz / pigz, "<= 1.2"),
            ("tar.gz export --no-compile / tar + pigz", gz_nc / pigz, "<= 1.2"),
            ("tar.gz export of the venv with pycs / tar + pigz", gz_c / pigz, "<= 1.2"),
            (
                "tar.gz size / pigz size",
                t.size_of("uv-portable export env.tar.gz")
                / t.size_of(f"tar | pigz -p{threads} -3 (exported tree)"),
                "<= 1.10",
            ),
            ("tar.zst export / tar + pigz", zst / pigz, "-"),
        ]

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
