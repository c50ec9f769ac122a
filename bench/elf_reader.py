"""Is the hand-written ELF reader worth keeping? Read every ELF file of real trees with it and
with pyelftools (the field's library), check they agree, and print the time ratio.

    uv run --frozen python bench/elf_reader.py [FOLDER ...]

Default folders: this machine's pyenv CPythons and the system library folder. The reader is
kept only if it is clearly faster on real trees (see docs/benchmarks.md)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.elf import is_elf, read_elf, read_elf_pyelftools

DEFAULT = [Path.home() / ".pyenv" / "versions", Path("/usr/lib/x86_64-linux-gnu")]


def elf_files(folders: list[Path]) -> list[Path]:
    found = []
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = Path(dirpath, name)
                if not path.is_symlink() and path.is_file() and is_elf(path):
                    found.append(path)
    return found


def timed(reader: object, files: list[Path]) -> tuple[float, list[object]]:
    results: list[object] = []
    start = time.perf_counter()
    for path in files:
        try:
            results.append(reader(path))  # type: ignore[operator]
        except BinaryFormatError:  # a damaged file: both readers say so the same way
            results.append(None)
    return time.perf_counter() - start, results


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or [d for d in DEFAULT if d.is_dir()]
    files = elf_files(folders)
    size = sum(p.stat().st_size for p in files)
    timed(read_elf, files[:50])  # warm the page cache and imports
    timed(read_elf_pyelftools, files[:50])
    fast_s, fast = timed(read_elf, files)
    ref_s, ref = timed(read_elf_pyelftools, files)
    disagree = [str(p) for p, a, b in zip(files, fast, ref) if a != b]
    print(f"{len(files)} ELF files, {size / 1e6:.0f} MB, in {', '.join(map(str, folders))}")
    print(f"struct reader: {fast_s:.2f} s   pyelftools: {ref_s:.2f} s")
    print(f"ratio: pyelftools / struct reader = {ref_s / fast_s:.1f}x")
    print(f"disagreements: {len(disagree)}" + (f" (first: {disagree[0]})" if disagree else ""))


if __name__ == "__main__":
    main()
