"""Verification of a staged export: the static checks, then its imports against the source
venv's (differential), each error raised as the export's own failure."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv_portable.errors import ToolError, VerifyError
from uv_portable.importcheck import baseline_of, compare
from uv_portable.model import Finding, Plan
from uv_portable.probe import ProbeRun, probe_interpreter, probe_tree
from uv_portable.verify import verify_tree


@dataclass(frozen=True)
class Verified:
    """What verification found: findings, the source's import baseline, and how it ran."""

    findings: tuple[Finding, ...] = ()
    imports: dict[str, Any] | None = None
    isolation: str = ""
    requirements: tuple[str, ...] = ()


def source_imports(
    early: Future[Any] | None,
    python: Path,
    modules: tuple[str, ...],
    pycache: Path,
) -> ProbeRun:
    """The source venv's imports, once the early compile is done (whatever its outcome: its
    failure is the export's, raised by the main thread)."""
    if early is not None:
        wait([early])
    return probe_interpreter(python, modules, pycache=pycache)


def verify_export(
    root: Path, plan: Plan, modules: tuple[str, ...], source_run: Future[ProbeRun] | None
) -> Verified:
    """Static checks of the staged tree, then its imports against the source's (moved, with
    the host's Python hidden where a sandbox is available); the first error is raised."""
    report = verify_tree(
        root,
        host_libraries=not plan.bundling,
        tolerated=frozenset(m.soname for m in plan.missing),
        exporting=True,
    )
    raise_first_error(report.findings, "the export would not be portable")
    if source_run is None:
        return Verified(report.findings, requirements=report.host_requirements + plan.host_data)
    try:
        run = probe_tree(root, modules)
    except ToolError:  # no sandbox here: in place is still a test of the copied tree
        run = probe_tree(root, modules, isolation="none")
    baseline = baseline_of(source_run.result())
    found = compare(baseline, run)
    raise_first_error(found, "the export does not do what the source venv does")
    return Verified(
        report.findings + tuple(found),
        baseline.to_json(run.isolation),
        run.isolation,
        report.host_requirements + plan.host_data,
    )


def raise_first_error(findings: Sequence[Finding], what: str) -> None:
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise VerifyError(
            f"{what}: {errors[0].path}: {errors[0].message}{more}",
            errors[0].hint or "report this to uv-portable with the venv's details",
        )
