"""Verification of a staged export: the static checks, then its imports against the source
venv's (differential), each error raised as the export's own failure."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from uv_portable import baseline_cache
from uv_portable.errors import ToolError, VerifyError
from uv_portable.importcheck import ImportBaseline, baseline_of, compare
from uv_portable.model import Finding, Plan
from uv_portable.probe import probe_interpreter, probe_tree
from uv_portable.pyc_cache import Cache
from uv_portable.verify import verify_tree


@dataclass(frozen=True)
class Verified:
    """What verification found: findings, the source's import baseline, and how it ran."""

    findings: tuple[Finding, ...] = ()
    imports: dict[str, Any] | None = None
    isolation: str = ""
    requirements: tuple[str, ...] = ()


class SourceBaseline(NamedTuple):
    """The source venv's import baseline, and whether it came from the cache."""

    baseline: ImportBaseline
    reused: bool = False


def source_imports(
    early: Future[Any] | None,
    python: Path,
    modules: tuple[str, ...],
    pycache: Path,
    cache: Cache | None = None,
    key: str = "",
) -> SourceBaseline:
    """The source venv's baseline: from the cache under key when an export of the unchanged
    source stored it, else its imports, once the early compile is done (whatever its
    outcome: its failure is the export's, raised by the main thread)."""
    if cache is not None:
        stored = baseline_cache.load(cache, key)
        if stored is not None:
            baseline_cache.touch(cache, key)
            return SourceBaseline(stored, reused=True)
    if early is not None:
        wait([early])
    run = probe_interpreter(python, modules, pycache=pycache)
    baseline = baseline_of(run)
    if cache is not None and baseline_cache.cacheable(run):
        baseline_cache.store(cache, key, baseline)
    return SourceBaseline(baseline)


def verify_export(
    root: Path, plan: Plan, modules: tuple[str, ...], source_run: Future[SourceBaseline] | None
) -> Verified:
    """Static checks of the staged tree, then its imports against the source's (moved, with
    the host's Python hidden where a sandbox is available); the first error is raised."""
    report = verify_tree(
        root,
        host_libraries=not plan.bundling,
        tolerated=frozenset(m.soname for m in plan.missing),
        exporting=True,
    )
    _raise_first_error(report.findings, "the export would not be portable")
    if source_run is None:
        return Verified(report.findings, requirements=report.host_requirements + plan.host_data)
    try:
        run = probe_tree(root, modules)
    except ToolError:  # no sandbox here: in place is still a test of the copied tree
        run = probe_tree(root, modules, isolation="none")
    baseline = source_run.result().baseline
    found = compare(baseline, run)
    _raise_first_error(found, "the export does not do what the source venv does")
    return Verified(
        report.findings + tuple(found),
        baseline.to_json(run.isolation),
        run.isolation,
        report.host_requirements + plan.host_data,
    )


def _raise_first_error(findings: Sequence[Finding], what: str) -> None:
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise VerifyError(
            f"{what}: {errors[0].path}: {errors[0].message}{more}",
            errors[0].hint or "report this to uv-portable with the venv's details",
        )
