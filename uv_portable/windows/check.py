"""``uv-portable check`` for Windows trees: static checks, and with ``--run`` a smoke run
(natively on Windows, under Wine elsewhere) that imports every distribution's modules."""

from __future__ import annotations

import contextlib
import json
import ntpath
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from uv_portable.check import STDLIB_MODULES, CheckReport, RunResult
from uv_portable.errors import ToolError
from uv_portable.model import Finding
from uv_portable.windows.verify import verify_windows_tree
from uv_portable.windows.wine import default_prefix, wine, wine_session, winpath

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
def _environment() -> Iterator[tuple[str, dict[str, str] | None]]:
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


def smoke_windows(tree: Path, modules: list[str]) -> RunResult:
    """Start the tree's python.exe, import modules, and see that it stays inside the tree."""
    from uv_portable.windows.wine import run_windows

    try:
        with _environment() as (kind, env):
            where = str(tree) if env is None else winpath(tree)
            exe = ntpath.join(where, "python.exe")
            try:
                proc = run_windows([exe, "-I", "-B", "-c", SMOKE, *modules], env, cwd=tree.parent)
            except subprocess.TimeoutExpired:
                return RunResult(kind, False, message="the interpreter did not finish in 300 s")
    except ToolError as exc:
        return RunResult("none", False, message=f"{exc.message} ({exc.hint})")
    lines = _lines(proc.stdout)
    if not lines or "prefix" not in lines[0]:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        last = tail[-1] if tail else f"exit code {proc.returncode}"
        return RunResult(kind, False, message=f"the interpreter did not start: {last}")
    failures = tuple((ln["module"], ln["error"]) for ln in lines if ln.get("ok") is False)
    imported = tuple(ln["module"] for ln in lines if ln.get("ok") is True)
    info = lines[0]
    inside = where.lower().rstrip("\\")
    outside = [
        p
        for p in [info["prefix"], info["base_prefix"], *info["path"]]
        if p and not str(p).lower().startswith(inside)
    ]
    if outside:
        message = f"{outside[0]} is outside the tree ({where})"
        return RunResult(kind, False, failures, imported, message)
    return RunResult(kind, True, failures, imported)


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
    result = None
    if run:
        wanted = [*STDLIB_MODULES, *windows_modules(tree), *imports]
        modules = [m for m in dict.fromkeys(wanted) if m not in skip_imports]
        result = smoke_windows(tree, [m for m in modules if m not in _NOT_ON_WINDOWS])
    return CheckReport(path, tuple(findings), (), result)
