"""Compile every .py of an export to hash-based pycs with an interpreter of the same X.Y, so
the bytecode stays valid whatever mtimes an archive or a target gives the files."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from uv_portable.config import INVALIDATION_MODES, Options
from uv_portable.errors import ToolError, io_error
from uv_portable.model import Interpreter
from uv_portable.process import run_capture
from uv_portable.progress import ProgressFactory, progress_bar

# Files per worker process. Each batch gets a fresh process: marshal's output depends on what
# the process compiled before (reference counts decide FLAG_REF), so a fixed batching makes
# the pycs reproducible whatever the number of workers.
BATCH = 96


@dataclass(frozen=True)
class CompileOptions:
    """How to compile an export's bytecode."""

    invalidation: str = "unchecked-hash"  # or "checked-hash"
    workers: int | None = None  # parallel worker processes (default: all cores)


@dataclass(frozen=True)
class CompileSummary:
    """What compiling did."""

    python: str  # the interpreter that compiled
    sources: int
    compiled: int
    converted: int  # valid timestamp pycs given a hash-based header
    kept: int  # already valid hash-based pycs
    failed: tuple[tuple[str, str], ...]  # (path, error) of sources that do not compile
    bytes_added: int
    seconds: float

    def note(self) -> str:
        """One line for the user."""
        text = (
            f"bytecode: {self.sources} source files ({self.compiled} compiled, "
            f"{self.converted + self.kept} existing pycs reused) in {self.seconds:.1f}s, "
            f"{self.bytes_added / 1e6:+.1f} MB"
        )
        if self.failed:
            text += f"; {len(self.failed)} file(s) do not compile and were skipped"
        return text


def _worker_argv(python: Path, checked: bool) -> list[str]:
    source = (Path(__file__).parent / "pyc_worker.py").read_text(encoding="utf-8")
    # -s -S: no site-packages code runs; -B: the worker's own imports write nothing;
    # no -I because it would ignore PYTHONHASHSEED (frozenset constants are ordered by hash).
    code = "import sys; del sys.path[0]\n" + source
    return [str(python), "-s", "-S", "-B", "-c", code, "1" if checked else "0"]


def _sources(root: Path, libdir: str) -> list[tuple[str, int]]:
    """Every regular .py file below lib/<libdir>, as (path relative to root, size), sorted."""
    found: list[tuple[str, int]] = []

    def walk(folder: str) -> None:
        with os.scandir(root / folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    walk(rel)
            elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                found.append((rel, entry.stat(follow_symlinks=False).st_size))

    if (root / "lib" / libdir).is_dir():
        walk(f"lib/{libdir}")
    return found


def _run_batch(argv: list[str], root: Path, batch: Sequence[str]) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    try:
        proc = subprocess.run(
            argv,
            input=b"".join(os.fsencode(p) + b"\0" for p in batch),
            capture_output=True,
            cwd=root,
            env=env,
            check=False,
        )
    except OSError as exc:
        raise ToolError(f"cannot run {argv[0]} to compile bytecode: {exc.strerror}") from exc
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]
    for result in results:
        if "fatal" in result:
            error = OSError(result["fatal"], str(result["e"]))
            raise io_error(error, root / str(result["p"]), writing=True)
    if proc.returncode != 0:
        raise ToolError(
            f"compiling bytecode with {argv[0]} failed (exit code {proc.returncode})",
            "export with --no-compile to skip compiling",
            output=proc.stderr.decode(errors="replace"),
        )
    return results


def compile_tree(
    root: Path,
    libdir: str,
    python: Path,
    options: CompileOptions,
    progress: ProgressFactory | None = None,
) -> CompileSummary:
    """Compile every .py below root/lib/<libdir> into __pycache__ with python."""
    started = time.monotonic()
    sources = _sources(root, libdir)
    argv = _worker_argv(python, options.invalidation == "checked-hash")
    batches = [sources[i : i + BATCH] for i in range(0, len(sources), BATCH)]
    counts = {"compiled": 0, "converted": 0, "kept": 0}
    failed: list[tuple[str, str]] = []
    added = 0
    workers = options.workers or os.cpu_count() or 1
    total = sum(size for _, size in sources)
    with (
        progress_bar(progress, "compiling bytecode", total) as advance,
        ThreadPoolExecutor(workers) as pool,
    ):
        jobs = [pool.submit(_run_batch, argv, root, [p for p, _ in b]) for b in batches]
        try:
            for batch, job in zip(batches, jobs):
                for result in job.result():
                    status = str(result["s"])
                    if status == "failed":
                        failed.append((str(result["p"]), str(result.get("e", ""))))
                    else:
                        counts[status] += 1
                    added += int(str(result["b"]))
                if advance is not None:
                    advance(sum(size for _, size in batch))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return CompileSummary(
        python=str(python),
        sources=len(sources),
        compiled=counts["compiled"],
        converted=counts["converted"],
        kept=counts["kept"],
        failed=tuple(failed),
        bytes_added=added,
        seconds=time.monotonic() - started,
    )


def compile_options(opts: Options) -> CompileOptions | None:
    """The bytecode options from merged options (None: do not compile)."""
    if not opts.compile:
        return None
    return CompileOptions(invalidation=opts.invalidation_mode, workers=opts.threads)


def host_interpreter(base: Interpreter) -> Path | None:
    """A CPython of the base's X.Y on this host (for exports of another platform)."""
    minor = f"{base.version[0]}.{base.version[1]}"
    if sys.implementation.name == "cpython" and sys.version_info[:2] == base.version[:2]:
        return Path(sys.executable)
    home = os.path.expanduser("~")
    patterns = [
        os.environ.get("PYENV_ROOT", f"{home}/.pyenv") + f"/versions/{minor}.*/bin",
        os.environ.get("UV_PYTHON_INSTALL_DIR", f"{home}/.local/share/uv/python")
        + f"/cpython-{minor}.*/bin",
    ]
    candidates = [
        Path(folder) / f"python{minor}"
        for pattern in patterns
        for folder in sorted(glob.glob(pattern), reverse=True)
    ]
    on_path = shutil.which(f"python{minor}")
    if on_path is not None and "/shims/" not in on_path:  # pyenv shims depend on the cwd
        candidates.insert(0, Path(on_path))
    return next((c for c in candidates if _is_cpython(c, minor)), None)


def _is_cpython(python: Path, minor: str) -> bool:
    code = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"
    proc = run_capture([str(python), "-I", "-S", "-c", code], timeout=30)
    return proc is not None and proc.stdout.split() == ["cpython", minor]


def compile_export(
    root: Path,
    base: Interpreter,
    options: CompileOptions,
    say: Callable[[str], None],
    progress: ProgressFactory | None = None,
) -> CompileSummary | None:
    """Compile an export's bytecode with its own interpreter, or a host CPython of the same
    X.Y for another platform's export; None (and a note) when there is none."""
    host = "macos" if sys.platform == "darwin" else "linux"
    python = root / "bin" / base.libdir_name if base.platform == host else host_interpreter(base)
    if python is None:
        say(
            f"bytecode not compiled: no CPython {base.version[0]}.{base.version[1]} on this "
            f"host to compile a {base.platform} export with"
        )
        return None
    summary = compile_tree(root, base.libdir_name, python, options, progress)
    say(summary.note())
    return summary


__all__ = ["INVALIDATION_MODES", "CompileOptions", "CompileSummary", "compile_export"]
