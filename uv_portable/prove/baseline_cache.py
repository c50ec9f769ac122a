"""The source venv's import baseline, kept in uv-portable's cache: an export of an unchanged
source does not import its modules again.

The key is a fingerprint of everything the baseline depends on: the tool's version, the
modules imported and their timeout, the loader's environment, the base interpreter (its path,
version, size and mtime), the distributions' RECORD files (their hashes of every installed
file), and the path, size and mtime of every file the export copies (so that an edit that no
RECORD shows, or a base upgraded in place, changes it too).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence

from uv_portable import __version__
from uv_portable.model import CopyFile, Plan, SourceEnv
from uv_portable.prove.imports import ImportBaseline
from uv_portable.prove.probe import ProbeRun, module_timeout
from uv_portable.write.pyc_cache import Cache

FORMAT = "uv-portable import baseline 1"
_ENV = ("LD_LIBRARY_PATH", "LD_PRELOAD", "DYLD_LIBRARY_PATH", "DYLD_FALLBACK_LIBRARY_PATH")


def fingerprint(source: SourceEnv, plan: Plan, modules: Sequence[str]) -> str:
    """The key of a source venv's baseline (see the module docstring)."""
    h = hashlib.sha256()

    def add(*parts: object) -> None:
        h.update(json.dumps([str(p) for p in parts]).encode() + b"\n")

    add(FORMAT, __version__, module_timeout(), *modules)
    add(*(f"{k}={os.environ.get(k, '')}" for k in _ENV))
    exe = source.base.executable.stat()
    add(source.path, source.base.executable, source.base.version_str, exe.st_size, exe.st_mtime_ns)
    add(*(f"{k}={v}" for k, v in source.cfg))
    for record in sorted(source.site_packages.glob("*.dist-info/RECORD")):
        add(record.parent.name, hashlib.sha256(record.read_bytes()).hexdigest())
    for action in plan.actions:
        if isinstance(action, CopyFile):
            st = action.src.stat()
            add(action.src, st.st_size, st.st_mtime_ns)
    return h.hexdigest()


def load(cache: Cache, key: str) -> ImportBaseline | None:
    """The stored baseline for key, or None (missing or unreadable: imported again)."""
    try:
        data = json.loads((cache.baselines / f"{key}.json").read_text(encoding="utf-8"))
        ok, broken = data["ok"], data["broken"]
        if data.get("format") == FORMAT and isinstance(ok, list) and isinstance(broken, dict):
            return ImportBaseline(tuple(map(str, ok)), {str(k): str(v) for k, v in broken.items()})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def cacheable(run: ProbeRun) -> bool:
    """Whether a run of the source may be reused: it started, and nothing timed out (a slow
    import on a busy machine is not a fact about the source)."""
    return run.started and not any("timed out" in e for e in run.failed.values())


def store(cache: Cache, key: str, baseline: ImportBaseline) -> None:
    """Keep a baseline (temp + rename); a cache that cannot be written is skipped silently,
    since the export does not depend on it and open_cache has said so already."""
    path = cache.baselines / f"{key}.json"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    data = {"format": FORMAT, "ok": list(baseline.ok), "broken": baseline.broken}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def touch(cache: Cache, key: str) -> None:
    """Mark a baseline as used now (for least-recently-used eviction)."""
    with contextlib.suppress(OSError):
        os.utime(cache.baselines / f"{key}.json")


__all__ = ["cacheable", "fingerprint", "load", "store", "touch"]
