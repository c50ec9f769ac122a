"""The heavy proofs' pipeline: a cached source venv, work run in it, the default export, its
check, and the same work run from the unpacked export in a bare Debian root at another path.

Every stage is timed and sized into a Report that the heavy conftest prints at the end of the
run (and writes as JSON beside the cached venvs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import CACHE, cli, managed_install_dir, run, uv, uv_env
from uv_portable.prove.sandbox import sandbox_argv

HEAVY_CACHE = CACHE / "heavy"
RUNNER = Path(__file__).with_name("runner.py")
# Pins of every distribution, so that the venvs are the same on every run; wheels only.
CONSTRAINTS = Path(__file__).with_name("constraints.txt")
# The export is run from a path that exists nowhere on the build host.
MOUNT = "/srv/moved/elsewhere/env"
# Beside MOUNT: the sandbox can only make mount points inside its top folder (a tmpfs).
WORK_MOUNT = "/srv/heavy-work"
# Extra `uv pip install` arguments, e.g. a local --find-links for the CUDA wheels.
UV_ARGS_ENV = "HEAVY_UV_ARGS"
# Options for a second, diagnostic export used when the default one fails (see export()).
EXPORT_ARGS_ENV = "HEAVY_EXPORT_ARGS"
ITEMS_TIMEOUT = 3 * 3600


@dataclass(frozen=True)
class Result:
    """One snippet or import, run by tests/heavy/runner.py."""

    name: str
    ok: bool
    seconds: float
    output: str


@dataclass
class Stage:
    """A timed step of the pipeline."""

    name: str
    seconds: float = 0.0
    size: int | None = None
    outcome: str = ""


@dataclass
class Report:
    """Timings, sizes and per-package outcomes of one heavy test module."""

    label: str
    stages: list[Stage] = field(default_factory=list)
    packages: dict[str, dict[str, str]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Time the block as a stage (recorded even when the block raises)."""
        st = Stage(name)
        start = time.monotonic()
        try:
            yield st
        finally:
            st.seconds = time.monotonic() - start
            self.stages.append(st)

    def record(self, package: str, column: str, value: str) -> None:
        """One cell of the per-package table."""
        self.packages.setdefault(package, {})[column] = value

    def table(self) -> str:
        """The report as plain-text tables."""
        lines = [
            f"== heavy: {self.label} ==",
            f"{'stage':<62} {'seconds':>9} {'size':>10}  outcome",
        ]
        for st in self.stages:
            size = _human(st.size) if st.size is not None else ""
            lines.append(f"{st.name:<62} {st.seconds:>9.1f} {size:>10}  {st.outcome}")
        if self.packages:
            columns = sorted({c for row in self.packages.values() for c in row})
            lines.append("")
            lines.append(f"{'package':<22} " + " ".join(f"{c:<16}" for c in columns))
            for name, row in self.packages.items():
                lines.append(f"{name:<22} " + " ".join(f"{row.get(c, '-'):<16}" for c in columns))
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "label": self.label,
            "stages": [vars(st) for st in self.stages],
            "packages": self.packages,
        }


REPORTS: list[Report] = []


def new_report(label: str) -> Report:
    """A report that the heavy conftest prints at the end of the session."""
    report = Report(label)
    REPORTS.append(report)
    return report


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def tree_size(path: Path) -> int:
    """Bytes of the regular files below path (hard links counted once), or of one file."""
    if path.is_file():
        return path.stat().st_size
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def uv_args() -> list[str]:
    """Extra `uv pip install` arguments from HEAVY_UV_ARGS."""
    return shlex.split(os.environ.get(UV_ARGS_ENV, ""))


def cached_venv(label: str, requirements: Sequence[str], minor: str = "3.12") -> Path:
    """A uv relocatable venv on managed-style CPython `minor` with the requirements (wheels
    only, every distribution pinned by constraints.txt), kept in the test cache under a name
    derived from its inputs (rebuilt when they change)."""
    extra = ["--only-binary", ":all:", "--constraint", str(CONSTRAINTS), *uv_args()]
    inputs = [minor, sorted(requirements), extra, CONSTRAINTS.read_text()]
    key = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    venv = HEAVY_CACHE / f"{label}-{minor}-{key[:12]}"
    done = venv / ".heavy-complete"
    if done.exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = uv_env(managed_install_dir(minor))
    run(
        [uv(), "venv", "-q", str(venv), "--python", minor, "--managed-python", "--relocatable"],
        env=env,
    )
    python = str(venv / "bin" / "python")
    run([uv(), "pip", "install", "-q", "--python", python, *extra, *requirements], env=env)
    done.touch()
    return venv


def clean_env(home: Path) -> dict[str, str]:
    """The environment the sandbox gives, for runs on the build host."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def write_work(folder: Path, snippets: dict[str, str]) -> Path:
    """A folder holding the runner and one snippet_NAME.py per snippet."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUNNER, folder / "runner.py")
    for name, code in snippets.items():
        (folder / f"snippet_{name}.py").write_text(code)
    return folder


def _parse(stdout: str, stderr: str, names: Sequence[str], returncode: int) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for line in stdout.splitlines():
        if line.startswith('{"kind"'):
            rec = json.loads(line)
            results[rec["name"]] = Result(rec["name"], rec["ok"], rec["seconds"], rec["output"])
    tail = "\n".join(stderr.strip().splitlines()[-15:])
    for name in names:
        if name not in results:
            why = f"no result: the runner exited with {returncode}\n{tail}"
            results[name] = Result(name, False, 0.0, why)
    return results


def run_in_source(venv: Path, work: Path, kind: str, names: Sequence[str]) -> dict[str, Result]:
    """Run snippets (kind "snippets") or imports (kind "imports") with the source venv."""
    home = work.parent / f"{work.name}-home"
    home.mkdir(exist_ok=True)
    folder = [str(work)] if kind == "snippets" else []
    argv = [str(venv / "bin" / "python"), "-I", str(work / "runner.py"), kind, *folder, *names]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=clean_env(home),
        cwd=home,
        timeout=ITEMS_TIMEOUT,
        check=False,
    )
    return _parse(proc.stdout, proc.stderr, names, proc.returncode)


def run_moved(
    tree: Path,
    rootfs: Path,
    work: Path,
    kind: str,
    names: Sequence[str],
    masks: Sequence[Path] = (),
) -> dict[str, Result]:
    """Run snippets or imports with the export's interpreter in the root file system, the
    tree mounted read-only at MOUNT, and no host Python anywhere. Files of the tree named in
    masks are replaced by /dev/null (for negative controls)."""
    folder = [f"{WORK_MOUNT}"] if kind == "snippets" else []
    argv = [f"{MOUNT}/bin/python", "-I", f"{WORK_MOUNT}/runner.py", kind, *folder, *names]
    binds = [(work, WORK_MOUNT)]
    binds += [(Path("/dev/null"), f"{MOUNT}/{m.relative_to(tree)}") for m in masks]
    command = sandbox_argv(tree, MOUNT, argv, rootfs=rootfs, binds=binds, readonly=True)
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=ITEMS_TIMEOUT, check=False
    )
    return _parse(proc.stdout, proc.stderr, names, proc.returncode)


def top_level_modules(venv: Path) -> list[str]:
    """Every top-level import name of the venv's distributions, as importlib.metadata sees them."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted(m.packages_distributions())))"
    )
    proc = run([str(venv / "bin" / "python"), "-I", "-c", code])
    names: list[str] = json.loads(proc.stdout)
    return [n for n in names if n.isidentifier() and n != "__pycache__"]


@dataclass(frozen=True)
class Export:
    """The default export, and the diagnostic one made when it failed (HEAVY_EXPORT_ARGS)."""

    default: subprocess.CompletedProcess[str]
    archive: Path | None  # the archive the later stages test, if any
    fallback_args: tuple[str, ...] = ()
    fallback: subprocess.CompletedProcess[str] | None = None


def export(report: Report, venv: Path, out: Path) -> Export:
    """`uv-portable export VENV OUT` with default options; when it fails and HEAVY_EXPORT_ARGS
    is set, export again with those options so that the later stages still have something to
    run (the default export's test fails either way)."""
    with report.stage("export (default options)") as st:
        proc = cli("export", str(venv), str(out))
        st.outcome = f"exit {proc.returncode}"
        if out.exists():
            st.size = tree_size(out)
    if proc.returncode == 0:
        return Export(proc, out)
    fallback = tuple(shlex.split(os.environ.get(EXPORT_ARGS_ENV, "")))
    if not fallback:
        return Export(proc, None)
    other = out.with_name(f"fallback-{out.name}")
    with report.stage(f"export (diagnostic, {EXPORT_ARGS_ENV})") as st:
        second = cli("export", str(venv), str(other), *fallback)
        st.outcome = f"exit {second.returncode}"
        if other.exists():
            st.size = tree_size(other)
    return Export(proc, other if second.returncode == 0 else None, fallback, second)


def usable_archive(exported: Export) -> Path:
    """The archive to test further, or a failure saying why there is none."""
    if exported.archive is None:
        message = (
            f"no export to test: `uv-portable export` exited {exported.default.returncode} "
            "(see test_export_with_default_options_succeeds)"
        )
        second = exported.fallback
        if second is None:
            message += f"; set {EXPORT_ARGS_ENV} to test an export made with other options"
        else:
            message += (
                f"; the diagnostic export with {' '.join(exported.fallback_args)} exited "
                f"{second.returncode}:\n{second.stdout}\n{second.stderr}"
            )
        raise AssertionError(message)
    return exported.archive


def unpack(report: Report, archive: Path, dest: Path) -> Path:
    """Unpack the archive (with the system's tar, as a user would) into dest."""
    with report.stage("unpack (tar -xzf)") as st:
        dest.mkdir(parents=True)
        run(["tar", "-xzf", str(archive), "-C", str(dest)])
        st.size = tree_size(dest)
    return dest


def check_run(report: Report, archive: Path) -> subprocess.CompletedProcess[str]:
    """`uv-portable check ARCHIVE --run`."""
    with report.stage("check --run") as st:
        proc = cli("check", str(archive), "--run")
        st.outcome = f"exit {proc.returncode}"
    return proc


_IMPORT_LINE = re.compile(r"^\s*import (\S+): (.*)$")


def reported_import_failures(check_output: str) -> dict[str, str]:
    """The `import MODULE: error` lines that `check --run` prints, for diagnostics."""
    found: dict[str, str] = {}
    for line in check_output.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def explain_check(proc: subprocess.CompletedProcess[str], venv: Path, work: Path) -> str:
    """check's output, and for every import it says failed whether the source imports it."""
    lines = [f"check --run exited {proc.returncode}:", proc.stdout, proc.stderr]
    failed = reported_import_failures(proc.stdout)
    if failed:
        source = run_in_source(venv, work, "imports", sorted(failed))
        lines.append("imports check --run reports as failed, tried in the source venv:")
        for name, error in sorted(failed.items()):
            if source[name].ok:
                verdict = "export defect: the source venv imports it"
            else:
                last = (source[name].output.strip().splitlines() or ["?"])[-1]
                verdict = f"FALSE POSITIVE: the source venv cannot import it either: {last}"
            lines.append(f"  {name}: {error}\n      -> {verdict}")
    return "\n".join(lines)


def failures(results: dict[str, Result], names: Sequence[str]) -> str:
    """A readable list of the named results that failed."""
    parts = []
    for name in names:
        r = results[name]
        if not r.ok:
            parts.append(f"--- {name} ({r.seconds:.1f} s)\n{r.output.strip()}")
    return "\n".join(parts)
