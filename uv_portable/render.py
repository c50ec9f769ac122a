"""What the CLI prints: an export's summary (text or JSON), a plan, a check report, and the
progress bar on a terminal. Output only; every decision was made before."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from uv_portable.exits import say

if TYPE_CHECKING:
    from uv_portable.api import ExportResult
    from uv_portable.model import Plan
    from uv_portable.progress import ProgressFactory
    from uv_portable.prove.report import CheckReport
    from uv_portable.settings import Settings


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextlib.contextmanager
def _rich_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def progress_factory() -> ProgressFactory | None:
    """A rich progress bar on a terminal (not in CI), else nothing."""
    return _rich_progress if _interactive() else None


def print_check(report: CheckReport) -> None:
    """The text report of `check`."""
    print(f"checked: {report.path}")
    shown = list(report.findings)
    width = max((len(f.code) for f in shown), default=0)
    for f in shown:
        print(f"{f.severity:<8} {f.code:<{width}}  {f.path}: {f.message}")
        if f.hint:
            print(f"{'':<8} {'':<{width}}  hint: {f.hint}")
    run = report.run
    if report.run_error is not None:
        print(f"run:     not done: {report.run_error.message}")
    if run is not None:
        if not run.started:
            print(f"run:     FAILED ({run.isolation}): {run.message}")
        else:
            baseline = "the manifest's baseline" if report.manifest else "no manifest"
            print(
                f"run:     interpreter started {run.note or run.isolation}; "
                f"{len(run.imported)} modules imported, {len(run.failed)} failed ({baseline})"
            )
    if report.matched is not None:
        print(f"files:   {report.matched} files match the manifest")
    if not report.manifest:
        print("manifest: none (not made by uv-portable, or made before 0.1): static checks only")
    for requirement in report.host_requirements:
        print(f"needs:   {requirement}")
    for note in report.notes:
        print(f"note:    {note}")
    needs = "; ".join(f"{f}_{v} by {p}" for f, v, p in report.symbol_versions)
    print(f"glibc:   >= {report.glibc_floor or 'any'}" + (f" (highest: {needs})" if needs else ""))
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    verdict = "self-contained" if report.ok else "NOT self-contained"
    if report.ok and report.run_error is not None:
        verdict = "not proven: no static problem, but the run could not start"
    print(f"result:  {verdict} ({errors} error(s), {warnings} warning(s))")


def report_export(result: ExportResult, as_json: bool, say: Callable[[str], None] = say) -> None:
    """The summary of an export: JSON on stdout, or lines on stderr (through ``say``)."""
    if as_json:
        from uv_portable.model import finding_json

        summary: dict[str, Any] = {
            "output": str(result.out),
            "format": result.format,
            "files": result.files,
            "bytes": result.bytes,
            "patched_binaries": result.patched,
            "seconds": round(result.seconds, 3),
            "notes": list(result.plan.notes),
            "findings": [finding_json(f) for f in result.findings],
            "verified_with": result.isolation or None,
            "verified_how": result.isolation_note or None,
            "host_requirements": list(result.host_requirements),
            "missing_libraries": [m.to_json() for m in result.plan.missing],
        }
        if result.archive is not None:
            summary["archive_bytes"] = result.archive.bytes_out
        if result.bytecode is not None:
            b = result.bytecode
            summary["bytecode"] = {
                "sources": b.sources,
                "compiled": b.compiled,
                "from_cache": b.cached,
                "reused": b.converted + b.kept,
                "failed": [{"path": p, "error": e} for p, e in b.failed],
                "bytes_added": b.bytes_added,
                "seconds": round(b.seconds, 3),
            }
        floor = result.plan.glibc_floor
        summary["glibc_floor"] = str(floor) if floor else None
        summary["glibc_per_file"] = {d: str(v) for d, v in result.plan.glibc}
        summary["symbol_versions"] = result.plan.symbol_versions_json()
        summary["bundled"] = [{"soname": s, "from": p} for s, p in result.plan.bundled]
        print(json.dumps(summary, indent=2))
        return
    for f in result.findings:
        if f.severity == "warning":
            say(f"warning: {f.path}: {f.message}")
    base = result.plan.source.base
    size = f"{result.bytes / 1e6:.1f} MB"
    if result.archive is not None:
        size += f" -> {result.archive.bytes_out / 1e6:.1f} MB"
    say(
        f"exported {result.label or result.plan.source.path} (CPython {base.version_str}) "
        f"to {result.out}: "
        f"{result.files} files, {size}, {result.patched} binaries patched, "
        f"{result.seconds:.1f}s"
    )
    if result.isolation:
        how = result.isolation_note or f"with {result.isolation}"
        say(f"verified {how}: the export imports what the source imports")
    if result.host_requirements:
        say(f"needs from the target host: {'; '.join(result.host_requirements)}")
    if base.platform == "linux":
        needs = "; ".join(f"{f}_{v} by {p}" for f, v, p in result.plan.symbol_versions)
        runs = f"runs on Linux with glibc >= {result.plan.glibc_floor or 'any'}"
        say(f"{runs} (highest symbol versions: {needs})" if needs else runs)
    elif base.platform == "windows":
        say("runs on 64-bit Windows 10 or newer (x64)")
    else:
        say("runs on macOS")


def print_plan(plan: Plan, output: str) -> None:
    """The text form of a plan and its checked output (`--dry-run`)."""
    from uv_portable.model import (
        CopyFile,
        MakeDir,
        MakeSymlink,
        SetMachO,
        SetSearchPath,
        WriteFile,
    )

    base = plan.source.base
    print(f"source:  {plan.source.path}")
    print(f"output:  {output}")
    print(f"base:    CPython {base.version_str} at {base.prefix} ({base.platform})")
    print(
        f"copy:    {plan.count(CopyFile)} files, {plan.count(MakeDir)} folders, "
        f"{plan.count(MakeSymlink)} symlinks"
    )
    for action in plan.actions:
        if isinstance(action, WriteFile):
            print(f"write:   {action.dest} ({action.reason})")
        elif isinstance(action, SetSearchPath):
            old, new = ":".join(action.old) or "-", ":".join(action.entries) or "-"
            print(f"patch:   {action.dest} RUNPATH {old} -> {new}")
        elif isinstance(action, SetMachO):
            for before, after in (*action.names, *action.rpaths):
                print(f"patch:   {action.dest} {before} -> {after}")
    for note in plan.notes:
        print(f"note:    {note}")
    print(f"glibc:   >= {plan.glibc_floor or 'any'}")
    for f in plan.findings:
        if f.severity != "info":
            print(f"{f.severity}: {f.path}: {f.message}")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # strings and numbers are written alike in TOML


def print_config(settings: Settings, pyproject: os.PathLike[str]) -> None:
    """The merged settings as valid TOML: unset keys commented out, each key's origin (default,
    the config's table, a target) as a comment."""
    print(f"# the merged configuration of {pyproject}")
    print("[tool.uv-portable]")
    for key, value in settings.to_json().items():
        name = key.replace("-", "_")
        origin = settings.origin(name)
        line = f"{key} = {_toml(value)}" if value is not None else f"# {key} = (not set)"
        print(f"{line}  # {origin}")
