"""The one smoke runner: start an interpreter (optionally where the host's Python is hidden)
and import modules, each in its own time-bounded subprocess, several at a time.

A module that hangs, prints to stdout, calls ``sys.exit`` or crashes the interpreter is
reported with its name; nothing it does can stop the others or the caller.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from uv_portable.errors import ToolError
from uv_portable.process import run_capture
from uv_portable.prove.sandbox import (
    UNSHARE_SETUP_FAILED,
    choose_sandbox,
    sandbox_argv,
    sandbox_failure,
    unshare_argv,
)
from uv_portable.settings import SandboxRequest

Isolation = Literal["bwrap", "unshare", "none", "wine", "native"]  # the last two: Windows
IsolationRequest = SandboxRequest
MOUNT = "/opt/uv-portable-probe/env"
MODULE_TIMEOUT = 120.0  # seconds one import may take; UV_PORTABLE_IMPORT_TIMEOUT overrides


def module_timeout() -> float:
    """How long one import may take before it counts as hanging."""
    value = os.environ.get("UV_PORTABLE_IMPORT_TIMEOUT", "")
    try:
        return float(value) if value else MODULE_TIMEOUT
    except ValueError:
        return MODULE_TIMEOUT


# Runs inside the interpreter under test, so it must work on every CPython >= 3.9.
_DRIVER = r"""
import json, os, signal, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
timeout, workers, modules = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
CHILD = '''
import importlib, json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
module, _, attr = sys.argv[1].partition(":")  # an entry point: module:attr.attr
try:
    target = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        target = getattr(target, part)
    result = {"ok": True}
except SystemExit as exc:
    result = {"ok": False, "error": "called sys.exit(%r) while being imported" % (exc.code,)}
except BaseException as exc:
    result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
out.write(json.dumps(result))
out.flush()
os._exit(0)
'''
def one(name):
    cache = getattr(sys, "pycache_prefix", None)
    flags = ["-X", "pycache_prefix=" + cache] if cache else ["-B"]
    proc = subprocess.Popen([sys.executable, "-I", *flags, "-c", CHILD, name],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"module": name, "ok": False, "error": "timed out after %g s" % timeout}
    text = out.decode("utf-8", "replace")
    if text.startswith("{"):
        result = json.loads(text)
    else:
        tail = err.decode("utf-8", "replace").strip().splitlines()
        how = ("crashed with signal %d" % -proc.returncode if proc.returncode < 0
               else "exited with code %d" % proc.returncode)
        result = {"ok": False, "error": "the interpreter " + how
                  + (": " + tail[-1] if tail else "")}
    result["module"] = name
    result["error"] = result.get("error", "")[:500]
    return result
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path}),
      flush=True)
with ThreadPoolExecutor(max(1, workers)) as pool:
    for result in pool.map(one, modules):
        print(json.dumps(result), flush=True)
"""


@dataclass(frozen=True)
class ImportResult:
    """Whether one module imported, and why not."""

    module: str
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class ProbeRun:
    """What starting the interpreter and importing the modules did."""

    isolation: Isolation
    started: bool
    prefix: str = ""  # sys.prefix as the interpreter saw it
    where: str = ""  # where the tree appeared (the mount point, or its own path)
    path: tuple[str, ...] = ()  # sys.path
    results: tuple[ImportResult, ...] = ()
    message: str = ""  # why it did not start
    note: str = ""  # how it was isolated, for messages ("with bwrap ...", "without ...")

    @property
    def imported(self) -> tuple[str, ...]:
        """Modules that imported."""
        return tuple(r.module for r in self.results if r.ok)

    @property
    def failed(self) -> dict[str, str]:
        """Module -> error, for modules that did not import."""
        return {r.module: r.error for r in self.results if not r.ok}

    def outside(self) -> str | None:
        """Why the interpreter is not self-contained (prefix or path outside), or None."""
        if not self.started:
            return None
        if self.prefix != self.where:
            return f"sys.prefix is {self.prefix}, not the tree (at {self.where})"
        for entry in self.path:
            if entry and entry != self.where and not entry.startswith(self.where + "/"):
                return f"sys.path holds {entry}, outside the tree (at {self.where})"
        return None


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _driver_args(
    python: str, modules: Sequence[str], timeout: float, pycache: Path | None = None
) -> list[str]:
    # Bytecode goes nowhere (-B), or to a scratch folder (pycache_prefix, Python >= 3.8) that
    # the imports share, never next to the sources.
    flags = ["-X", f"pycache_prefix={pycache}"] if pycache is not None else ["-B"]
    return [python, "-I", *flags, "-c", _DRIVER, str(timeout), str(_workers()), *modules]


def _parse(proc: subprocess.CompletedProcess[str], isolation: Isolation, where: str) -> ProbeRun:
    lines: list[dict[str, Any]] = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                lines.append(value)
    if not lines or "prefix" not in lines[0]:
        tail = proc.stderr.strip().splitlines()
        reason = tail[-1] if tail else f"exit code {proc.returncode}"
        return ProbeRun(isolation, False, where=where, message=f"did not start: {reason}")
    head = lines[0]
    results = tuple(
        ImportResult(str(r["module"]), bool(r["ok"]), str(r.get("error", "")))
        for r in lines[1:]
        if "module" in r
    )
    return ProbeRun(
        isolation,
        True,
        prefix=str(head["prefix"]),
        where=where,
        path=tuple(str(p) for p in head["path"]),
        results=results,
    )


def probe_interpreter(
    python: Path,
    modules: Sequence[str],
    *,
    timeout: float | None = None,
    pycache: Path | None = None,
) -> ProbeRun:
    """Import modules with an interpreter in place (the source venv's), writing no bytecode
    beside its sources (``pycache``: a scratch folder the imports share instead)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    where = str(python.parent.parent)
    argv = _driver_args(str(python), modules, timeout or module_timeout(), pycache)
    proc = run_capture(argv, env=env)
    if proc is None:
        return ProbeRun("none", False, where=where, message=f"cannot start {python}")
    return _parse(proc, "none", where)


def probe_tree(
    tree: Path,
    modules: Sequence[str],
    *,
    isolation: IsolationRequest = "auto",
    timeout: float | None = None,
) -> ProbeRun:
    """Import modules with the tree's interpreter, moved to another path, with the host's
    Python hidden: by the sandbox ``choose_sandbox`` found working (bubblewrap, else unshare
    as root, else in place for ``auto``; its ``note`` says which and why). The tree is
    mounted read-only and no bytecode is written. A sandbox that cannot start raises a
    ToolError: that is the host's failure, never the tree's."""
    timeout = timeout or module_timeout()
    sandbox = choose_sandbox(isolation)
    note = sandbox.describe()
    if sandbox.kind == "bwrap":
        argv = _driver_args(f"{MOUNT}/bin/python", modules, timeout)
        command = sandbox_argv(tree, MOUNT, argv, readonly=True)
        return _parse_or_fail(run_capture(command), "bwrap", MOUNT, note)
    if sandbox.kind == "unshare":
        mount = tempfile.mkdtemp(prefix="uv-portable-probe-")
        try:
            argv = _driver_args(f"{mount}/bin/python", modules, timeout)
            proc = run_capture(unshare_argv(tree, mount, argv))
            return _parse_or_fail(proc, "unshare", mount, note)
        finally:
            os.rmdir(mount)
    run = probe_interpreter(tree / "bin" / "python", modules, timeout=timeout)
    return replace(run, where=str(tree), note=note)


def _parse_or_fail(
    proc: subprocess.CompletedProcess[str] | None, isolation: Isolation, where: str, note: str
) -> ProbeRun:
    if proc is None:
        raise ToolError(f"the {isolation} sandbox did not start", _SANDBOX_HINT)
    failure = sandbox_failure(proc.stderr) if isolation == "bwrap" else None
    if isolation == "unshare" and proc.returncode == UNSHARE_SETUP_FAILED:
        tail = proc.stderr.strip().splitlines()
        failure = f"unshare: {tail[-1] if tail else 'set-up failed'}"
    if failure is not None and not proc.stdout.startswith("{"):
        raise ToolError(f"the sandbox did not start: {failure}", _SANDBOX_HINT)
    return replace(_parse(proc, isolation, where), note=note)


_SANDBOX_HINT = "run with --sandbox none to verify in place, and report it"
