"""Verification of a staged export: the static checks, its bin/ scripts against the source's,
then its imports and entry points against the source venv's (differential), each error
raised as the export's own failure."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from uv_portable.errors import VerifyError
from uv_portable.findings import finding
from uv_portable.model import CopyFile, Finding, Plan, WriteFile
from uv_portable.plan.scripts import Shebang, parse_shebang
from uv_portable.plan.venv import is_build_python
from uv_portable.prove import baseline_cache
from uv_portable.prove.imports import ImportBaseline, baseline_of, compare
from uv_portable.prove.probe import IsolationRequest, probe_interpreter, probe_tree
from uv_portable.prove.static import verify_tree
from uv_portable.source.distributions import module_owners
from uv_portable.write.pyc_cache import Cache


@dataclass(frozen=True)
class Verified:
    """What verification found: findings, the source's import baseline, and how it ran."""

    findings: tuple[Finding, ...] = ()
    imports: dict[str, Any] | None = None
    isolation: str = ""
    requirements: tuple[str, ...] = ()
    isolation_note: str = ""  # how the imports were isolated, and why not more


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
    root: Path,
    plan: Plan,
    modules: tuple[str, ...],
    source_run: Future[SourceBaseline] | None,
    sandbox: IsolationRequest = "auto",
) -> Verified:
    """Static checks of the staged tree and its scripts, then its imports and entry points
    against the source's (moved, with the host's Python hidden where a sandbox can start);
    the first error is raised."""
    report = verify_tree(
        root,
        host_libraries=not plan.bundling,
        tolerated=frozenset(m.soname for m in plan.missing),
        exporting=True,
    )
    raise_first_error(report.findings, "the export would not be portable")
    scripts = script_findings(root, plan)
    raise_first_error(scripts, "the export's scripts do not run what the source's run")
    if source_run is None:
        return Verified(report.findings, requirements=report.host_requirements + plan.host_data)
    run = probe_tree(root, modules, isolation=sandbox)
    baseline = source_run.result().baseline
    found = compare(baseline, run, module_owners(plan.distributions))
    raise_first_error(found, "the export does not do what the source venv does")
    return Verified(
        report.findings + tuple(found),
        baseline.to_json(run.isolation),
        run.isolation,
        report.host_requirements + plan.host_data,
        run.note,
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4096)


def _runs(shebang: Shebang | None) -> str:
    if shebang is None:
        return "no interpreter (no shebang)"
    if shebang.relocatable:
        return f"the export's {shebang.interpreter}"
    return " ".join(filter(None, (shebang.interpreter, shebang.args)))


def script_findings(root: Path, plan: Plan) -> list[Finding]:
    """bin/ scripts against the source's: one the build's Python ran must run the Python
    inside the export; any other (bash, perl, sh, a Python found on PATH) keeps the
    interpreter it had."""
    findings: list[Finding] = []
    for action in plan.actions:
        if not isinstance(action, (CopyFile, WriteFile)) or action.src is None:
            continue
        dest = action.dest
        if not dest.startswith("bin/") or "/" in dest[4:]:
            continue
        before = parse_shebang(_head(action.src))
        if before is None:
            continue  # a binary, or text without a shebang
        after = parse_shebang(_head(root / dest))
        python = before.relocatable or (
            before.interpreter.startswith("/") and is_build_python(plan.source, before.interpreter)
        )
        if python:
            inside = (
                after is not None
                and after.relocatable
                and (root / "bin" / after.interpreter).is_file()
            )
            if not inside:
                findings.append(
                    finding(
                        "script-outside",
                        dest,
                        f"runs {_runs(after)}, not the Python inside the export",
                    )
                )
        elif after != before:
            findings.append(
                finding(
                    "script-interpreter-changed",
                    dest,
                    f"ran {_runs(before)} in the source, but {_runs(after)} in the export",
                )
            )
    return findings


def raise_first_error(findings: Sequence[Finding], what: str) -> None:
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise VerifyError(
            f"{what}: {errors[0].path}: {errors[0].message}{more}",
            errors[0].hint or "report this to uv-portable with the venv's details",
        )
