"""Compile every .py of an export to hash-based pycs with an interpreter of the same X.Y, so
the bytecode stays valid whatever mtimes an archive or a target gives the files."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from uv_portable.errors import ToolError, io_error
from uv_portable.interrupts import ThreadPool
from uv_portable.model import CopyFile, Interpreter, Plan
from uv_portable.process import run_capture
from uv_portable.progress import ProgressFactory, progress_bar
from uv_portable.settings import CompileOptions
from uv_portable.write.pyc_cache import evict

# Files per worker process. Each batch gets a fresh process: marshal's output can depend on
# what the process compiled before (pyc_worker removes that on 3.9-3.11; on 3.12 and 3.13 a
# rare file's FLAG_REF bits still do), so a fixed batching keeps the pycs, and the archives,
# identical whatever the number of workers.
BATCH = 96


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
    done: frozenset[str] = frozenset()  # sources whose pycs are valid now
    cached: int = 0  # pycs taken from the bytecode cache instead of compiled
    stored: int = 0  # bytes of new cache entries
    cache_problem: str = ""  # why the cache could not be written (the first failure)

    def __add__(self, later: CompileSummary) -> CompileSummary:
        """This pass followed by a later one over the other sources."""
        return CompileSummary(
            python=later.python,
            sources=self.sources - len(self.failed) + later.sources,
            compiled=self.compiled + later.compiled,
            converted=self.converted + later.converted,
            kept=self.kept + later.kept,
            failed=later.failed,  # a source that failed early is tried again later
            bytes_added=self.bytes_added + later.bytes_added,
            seconds=self.seconds + later.seconds,
            done=self.done | later.done,
            cached=self.cached + later.cached,
            stored=self.stored + later.stored,
            cache_problem=self.cache_problem or later.cache_problem,
        )

    def note(self) -> str:
        """One line for the user."""
        from_cache = f"{self.cached} from the cache, " if self.cached else ""
        text = (
            f"bytecode: {self.sources} source files ({self.compiled} compiled, {from_cache}"
            f"{self.converted + self.kept} existing pycs reused) in {self.seconds:.1f}s, "
            f"{self.bytes_added / 1e6:+.1f} MB"
        )
        if self.failed:
            text += f"; {len(self.failed)} file(s) do not compile and were skipped"
        return text


def _worker_argv(python: Path, checked: bool, mirror: Path | None, cache: Path | None) -> list[str]:
    source = (Path(__file__).parent / "pyc_worker.py").read_text(encoding="utf-8")
    # -s -S: no site-packages code runs; -B: the worker's own imports write nothing;
    # no -I because it would ignore PYTHONHASHSEED (frozenset constants are ordered by hash).
    code = "import sys; del sys.path[0]\n" + source
    folders = [str(mirror) if mirror else "", str(cache) if cache else ""]
    return [str(python), "-s", "-S", "-B", "-c", code, "1" if checked else "0", *folders]


class Source(NamedTuple):
    """A .py file of the export: its path relative to the export, its size, and the identical
    file to read it from when not the export's (None)."""

    rel: str
    size: int
    read_from: Path | None = None


TEST_FOLDERS = frozenset({"tests", "test"})


def in_package_tests(rel: str, lib_dest: str) -> bool:
    """Whether rel (relative to the export) is in a test folder inside a package of
    site-packages (``pandas/tests/...``, ``numpy/core/tests/...``); the standard library's
    test suite is --keep-tests' business. They are 73% of the sources of a numpy + pandas +
    pyarrow venv and 70% of its pycs' bytes, so they are compiled only with --compile-tests."""
    prefix = f"{lib_dest}/site-packages/"
    if not rel.startswith(prefix):
        return False
    folders = rel[len(prefix) :].split("/")[1:-1]  # below the top-level package, not the file
    return not TEST_FOLDERS.isdisjoint(folders)


def _sources(root: Path, lib_dest: str, skip: frozenset[str], tests: bool = True) -> list[Source]:
    """Every regular .py file below lib_dest (lib/python3.X, or Lib) not in skip (nor, unless
    tests, in a package's test folder), sorted."""
    found: list[Source] = []

    def walk(folder: str) -> None:
        with os.scandir(root / folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    walk(rel)
            elif (
                entry.name.endswith(".py")
                and rel not in skip
                and (tests or not in_package_tests(rel, lib_dest))
                and entry.is_file(follow_symlinks=False)
            ):
                found.append(Source(rel, entry.stat(follow_symlinks=False).st_size))

    if (root / lib_dest).is_dir():
        walk(lib_dest)
    return found


def early_sources(plan: Plan, lib_dest: str, tests: bool = True) -> list[Source]:
    """The planned copies of .py files below lib_dest that no pyc of the source comes with
    (nor, unless tests, in a package's test folder), read from where they are copied from: they
    can be compiled while the tree is copied."""
    prefix = f"{lib_dest}/"
    copies = [a for a in plan.actions if isinstance(a, CopyFile) and a.dest.startswith(prefix)]
    pycs: dict[str, list[str]] = {}  # folder -> names of the pycs planned in its __pycache__
    for a in copies:
        folder, _, name = a.dest.rpartition("/__pycache__/")
        if folder and name.endswith(".pyc"):
            pycs.setdefault(folder, []).append(name)

    def cached(dest: str) -> bool:
        """Whether any pyc planned beside dest may be its (`<module>.<tag>[.opt-N].pyc`; the
        module name may hold dots, as 3.10's `__phello__.foo.py` does)."""
        folder, _, name = dest.rpartition("/")
        return any(pyc.startswith(name[:-2]) for pyc in pycs.get(folder, ()))

    return sorted(
        Source(a.dest, a.src.stat().st_size, a.src)
        for a in copies
        if a.dest.endswith(".py")
        and not cached(a.dest)
        and (tests or not in_package_tests(a.dest, lib_dest))
    )


def _run_batch(argv: list[str], root: Path, batch: Sequence[Source]) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    records = (
        (os.fsencode(s.rel), os.fsencode(s.read_from) if s.read_from else b"") for s in batch
    )
    try:
        proc = subprocess.run(
            argv,
            input=b"".join(rel + b"\0" + copy + b"\0" for rel, copy in records),
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
    sources: Sequence[Source],
    python: Path,
    options: CompileOptions,
    progress: ProgressFactory | None = None,
    mirror: Path | None = None,
) -> CompileSummary:
    """Compile sources (paths relative to root) into __pycache__ below root with python (and
    link those read from elsewhere into mirror, see pyc_worker)."""
    started = time.monotonic()
    pycs = options.cache.pycs if options.cache is not None else None
    argv = _worker_argv(python, options.invalidation == "checked-hash", mirror, pycs)
    batches = [sources[i : i + BATCH] for i in range(0, len(sources), BATCH)]
    counts = {"compiled": 0, "cached": 0, "converted": 0, "kept": 0}
    problems: list[str] = []
    stored = 0
    failed: list[tuple[str, str]] = []
    done: list[str] = []
    added = 0
    workers = options.workers or os.cpu_count() or 1
    total = sum(s.size for s in sources)
    with (
        progress_bar(progress, "compiling bytecode", total) as advance,
        ThreadPool(workers) as pool,
    ):
        jobs = [pool.submit(_run_batch, argv, root, b) for b in batches]
        try:
            for batch, job in zip(batches, jobs):
                for result in job.result():
                    if "cache" in result:
                        problems.append(f"{result['p']}: {result['cache']}")
                        continue
                    if "stored" in result:
                        stored += int(str(result["stored"]))
                        continue
                    status = str(result["s"])
                    if status == "failed":
                        failed.append((str(result["p"]), str(result.get("e", ""))))
                    else:
                        counts[status] += 1
                        done.append(str(result["p"]))
                    added += int(str(result["b"]))
                if advance is not None:
                    advance(sum(s.size for s in batch))
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
        done=frozenset(done),
        cached=counts["cached"],
        stored=stored,
        cache_problem=problems[0] if problems else "",
    )


def host_interpreter(base: Interpreter) -> Path | None:
    """A CPython of the base's X.Y (and build: free-threaded or not) on this host (for
    exports of another platform)."""
    minor = f"{base.version[0]}.{base.version[1]}"
    ft = "t" if base.free_threaded else ""
    if (
        sys.implementation.name == "cpython"
        and sys.version_info[:2] == base.version[:2]
        and _running_free_threaded() == base.free_threaded
    ):
        return Path(sys.executable)
    home = os.path.expanduser("~")
    patterns = [
        os.environ.get("PYENV_ROOT", f"{home}/.pyenv") + f"/versions/{minor}.*{ft}/bin",
        os.environ.get("UV_PYTHON_INSTALL_DIR", f"{home}/.local/share/uv/python")
        + f"/cpython-{minor}.*/bin",
    ]
    candidates = [
        Path(folder) / f"python{minor}{ft}"
        for pattern in patterns
        for folder in sorted(glob.glob(pattern), reverse=True)
    ]
    on_path = shutil.which(f"python{minor}{ft}")
    if on_path is not None and "/shims/" not in on_path:  # pyenv shims depend on the cwd
        candidates.insert(0, Path(on_path))
    return next((c for c in candidates if _is_cpython(c, minor + ft)), None)


def _running_free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _is_cpython(python: Path, minor: str) -> bool:
    """Whether python is CPython ``minor`` ("3.14", or "3.14t" for a free-threaded build)."""
    code = (
        "import sys, sysconfig; print(sys.implementation.name, '%d.%d' % sys.version_info[:2]"
        " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))"
    )
    proc = run_capture([str(python), "-I", "-S", "-c", code], timeout=30)
    return proc is not None and proc.stdout.split() == ["cpython", minor]


def compile_copies(
    root: Path,
    plan: Plan,
    base: Interpreter,
    options: CompileOptions,
    mirror: Path | None = None,
) -> CompileSummary | None:
    """Compile the sources that no pyc comes with, read from where the plan copies them
    (early_sources), into root while root is still being filled: with the base interpreter the
    export copies, so the pycs are those its own would write. With mirror, the source venv's
    imports run with it as sys.pycache_prefix find them too. None for another platform."""
    if not base.on_host:
        return None
    sources = early_sources(plan, base.lib_dest, options.tests)
    return compile_tree(root, sources, base.executable, options, mirror=mirror)


def compile_export(
    root: Path,
    base: Interpreter,
    options: CompileOptions,
    say: Callable[[str], None],
    progress: ProgressFactory | None = None,
    early: CompileSummary | None = None,
) -> CompileSummary | None:
    """Compile an export's bytecode with its own interpreter, or a host CPython of the same
    X.Y for another platform's export; None (and a note) when there is none. Sources that an
    early pass (compile_copies) made valid pycs for are not read again."""
    python = root / "bin" / base.libdir_name if base.on_host else host_interpreter(base)
    if python is None:
        say(
            f"bytecode not compiled: no CPython {base.version[0]}.{base.version[1]} on this "
            f"host to compile a {base.platform} export with"
        )
        return None
    skip = early.done if early is not None else frozenset()
    sources = _sources(root, base.lib_dest, skip, options.tests)
    summary = compile_tree(root, sources, python, options, progress)
    if early is not None:
        summary = early + summary
    say(summary.note())
    if options.cache is not None:
        if summary.cache_problem:
            say(f"cache {options.cache.root} not written to: {summary.cache_problem}")
        if summary.stored:
            evict(options.cache)
    return summary


__all__ = [
    "CompileOptions",
    "CompileSummary",
    "compile_copies",
    "compile_export",
]
