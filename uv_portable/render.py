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
    from uv_portable.check import CheckReport
    from uv_portable.model import Plan
    from uv_portable.progress import ProgressFactory


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
    if run is not None:
        if not run.started:
            print(f"run:     FAILED ({run.isolation}): {run.message}")
        else:
            baseline = "the manifest's baseline" if report.manifest else "no manifest"
            print(
                f"run:     interpreter started ({run.isolation}); {len(run.imported)} modules "
                f"imported, {len(run.failed)} failed ({baseline})"
            )
    if not report.manifest:
        print("manifest: none (not made by uv-portable, or made before 0.1): static checks only")
    for requirement in report.host_requirements:
        print(f"needs:   {requirement}")
    print(f"glibc:   >= {report.glibc_floor or 'any'}")
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    verdict = "self-contained" if report.ok else "NOT self-contained"
    print(f"result:  {verdict} ({errors} error(s), {warnings} warning(s))")


def report_export(result: ExportResult, as_json: bool) -> None:
    """The summary of an export: JSON on stdout, or lines on stderr."""
    if as_json:
        from uv_portable.model import finding_json

        summary: dict[str, Any] = {
            "output": str(result.out),
            "files": result.files,
            "bytes": result.bytes,
            "patched_binaries": result.patched,
            "seconds": round(result.seconds, 3),
            "notes": list(result.plan.notes),
            "findings": [finding_json(f) for f in result.findings],
            "verified_with": result.isolation or None,
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
        how = "in place: no sandbox here" if result.isolation == "none" else result.isolation
        say(f"verified: the export imports what the source imports ({how})")
    if result.host_requirements:
        say(f"needs from the target host: {'; '.join(result.host_requirements)}")
    if base.platform == "linux":
        say(f"runs on Linux with glibc >= {result.plan.glibc_floor or 'any'}")
    elif base.platform == "windows":
        say("runs on 64-bit Windows 10 or newer (x64)")
    else:
        say("runs on macOS")


def print_plan(plan: Plan) -> None:
    """The text form of a plan (`--dry-run`)."""
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
