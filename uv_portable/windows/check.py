"""``uv-portable check`` for Windows trees: static checks, and with ``--run`` a smoke run
(natively on Windows, under Wine elsewhere) that imports every distribution's modules."""

from __future__ import annotations

import contextlib
import json
import ntpath
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv_portable.errors import ToolError
from uv_portable.findings import finding
from uv_portable.model import Finding
from uv_portable.prove.imports import STDLIB_MODULES
from uv_portable.prove.manifest import ManifestError, compare_files, load_manifest
from uv_portable.prove.probe import ImportResult, Isolation, ProbeRun
from uv_portable.prove.report import CheckReport
from uv_portable.publish.output import MANIFEST_PATH
from uv_portable.windows.verify import verify_windows_tree
from uv_portable.windows.wine import default_prefix, run_windows, wine, wine_session, winpath

SMOKE = r"""
import importlib, json, sys
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path}))
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        print(json.dumps({"module": name, "ok": True}))
    except BaseException as exc:
        print(json.dumps({"module": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}))
    sys.stdout.flush()
"""
_NOT_ON_WINDOWS = frozenset({"readline"})


def windows_modules(tree: Path) -> list[str]:
    """Top-level modules of the distributions in Lib\\site-packages."""
    names: set[str] = set()
    for dist in sorted((tree / "Lib" / "site-packages").glob("*.dist-info")):
        top = dist / "top_level.txt"
        if top.is_file():
            names.update(n.strip() for n in top.read_text(errors="replace").splitlines())
            continue
        record = dist / "RECORD"
        if not record.is_file():
            continue
        for line in record.read_text(errors="replace").splitlines():
            parts = line.split(",", 1)[0].split("/")
            if len(parts) > 1 and parts[-1] == "__init__.py" and len(parts) == 2:
                names.add(parts[0])
            elif len(parts) == 1 and parts[0].endswith((".py", ".pyd")):
                names.add(parts[0].split(".", 1)[0])
    return sorted(n for n in names if n.isidentifier() and not n.startswith("_"))


def _lines(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line) if line.startswith("{") else None
            if isinstance(value, dict):
                out.append(value)
    return out


@contextlib.contextmanager
def _environment() -> Iterator[tuple[Isolation, dict[str, str] | None]]:
    if os.name == "nt":
        yield "native", None
        return
    if wine() is None:
        raise ToolError(
            "cannot run a Windows environment here: Wine is not installed",
            "install it (apt-get install -y --no-install-recommends wine64 wine), or run "
            "`uv-portable check --run` on Windows",
        )
    with wine_session(default_prefix()) as env:
        yield "wine", env


@dataclass(frozen=True)
class WindowsRun:
    """What starting a tree's python.exe did."""

    runner: Isolation  # "native" | "wine" | "none"
    started: bool
    where: str = ""  # the tree as the interpreter sees it (Z:\\... under Wine)
    prefixes: tuple[str, ...] = ()  # sys.prefix, sys.base_prefix
    path: tuple[str, ...] = ()  # sys.path
    imported: tuple[str, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (module, error)
    message: str = ""  # why it did not start

    def outside(self) -> str | None:
        """The first prefix or sys.path entry outside the tree, or None."""
        root = self.where.lower().rstrip("\\")
        for entry in (*self.prefixes, *self.path):
            low = entry.lower()
            if entry and low != root and not low.startswith(root + "\\"):
                return entry
        return None


def smoke_windows(tree: Path, modules: list[str]) -> WindowsRun:
    """Start the tree's python.exe and import modules (natively on Windows, else under Wine)."""
    try:
        with _environment() as (runner, env):
            where = str(tree) if env is None else winpath(tree)
            exe = ntpath.join(where, "python.exe")
            try:
                proc = run_windows([exe, "-I", "-B", "-c", SMOKE, *modules], env, cwd=tree.parent)
            except subprocess.TimeoutExpired:
                return WindowsRun(runner, False, where, message="it did not finish in 300 s")
    except ToolError as exc:
        return WindowsRun("none", False, message=f"{exc.message} ({exc.hint})")
    lines = _lines(proc.stdout)
    if not lines or "prefix" not in lines[0]:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        last = tail[-1] if tail else f"exit code {proc.returncode}"
        return WindowsRun(runner, False, where, message=f"the interpreter did not start: {last}")
    info = lines[0]
    return WindowsRun(
        runner,
        True,
        where,
        prefixes=(str(info["prefix"]), str(info["base_prefix"])),
        path=tuple(str(p) for p in info["path"]),
        imported=tuple(ln["module"] for ln in lines if ln.get("ok") is True),
        failures=tuple((ln["module"], ln["error"]) for ln in lines if ln.get("ok") is False),
    )


def _run_report(run: WindowsRun) -> tuple[ProbeRun, list[Finding]]:
    """The one adapter from a Windows run to check's report types, and its findings."""
    results = tuple(ImportResult(m, True) for m in run.imported) + tuple(
        ImportResult(m, False, e) for m, e in run.failures
    )
    prefix = run.prefixes[0] if run.prefixes else ""
    probe = ProbeRun(run.runner, run.started, prefix, run.where, run.path, results, run.message)
    if not run.started:
        return probe, [finding("interpreter-failed", "python.exe", run.message)]
    outside = run.outside()
    if outside is not None:
        message = f"{outside} is outside the tree ({run.where})"
        return probe, [finding("interpreter-outside", "python.exe", message)]
    return probe, [
        finding("import-failed", module, f"import fails: {error}", subject=module)
        for module, error in run.failures
    ]


def check_windows_tree(
    path: str,
    tree: Path,
    extraction: list[Finding],
    *,
    run: bool,
    imports: tuple[str, ...] = (),
    skip_imports: tuple[str, ...] = (),
) -> CheckReport:
    """Check an extracted or exported Windows tree."""
    findings = [*extraction, *verify_windows_tree(tree)]
    try:
        manifest = load_manifest(tree)
    except ManifestError as exc:
        manifest = None
        findings.append(finding("bad-manifest", MANIFEST_PATH, str(exc)))
    if manifest is not None:
        findings += compare_files(tree, manifest)
    result = None
    if run:
        wanted = [*STDLIB_MODULES, *windows_modules(tree), *imports]
        modules = [m for m in dict.fromkeys(wanted) if m not in skip_imports]
        run_here = smoke_windows(tree, [m for m in modules if m not in _NOT_ON_WINDOWS])
        result, run_findings = _run_report(run_here)
        findings += run_findings
    return CheckReport(path, tuple(findings), (), result, manifest is not None)
