"""The Python API behind the CLI: plan, export, verify."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from uv_portable.errors import Interrupted, RefusedError, UsageError, VerifyError
from uv_portable.materialize import materialize
from uv_portable.model import CopyFile, Finding, Plan, SetSearchPath, WriteFile
from uv_portable.patch import patch_binaries
from uv_portable.plan import ExportOptions, make_plan
from uv_portable.source import load_source
from uv_portable.verify import smoke_run, verify_tree

Say = Callable[[str], None]


@dataclass(frozen=True)
class ExportResult:
    """What an export produced."""

    out: Path
    plan: Plan
    files: int
    bytes: int
    patched: int
    seconds: float
    findings: tuple[Finding, ...]


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_location(src: Path, out: Path, *, force: bool) -> None:
    """Refuse outputs that overlap the source or would clobber data."""
    src_real, out_real = src.resolve(), out.resolve()
    if _inside(out_real, src_real):
        raise UsageError(
            f"output {out} is inside the source {src}", "choose an output folder outside the venv"
        )
    if _inside(src_real, out_real):
        raise UsageError(
            f"the source {src} is inside the output {out}",
            "choose an output folder that does not contain the venv",
        )
    parent = out_real.parent
    if not parent.is_dir():
        raise UsageError(f"output folder {parent} does not exist", f"create it: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"output folder {parent} is not writable", "choose another output location"
        )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(
            f"output {out} exists and is not a folder", "remove it or choose another output path"
        )
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"output {out} exists and is not empty",
            "pass --force to replace it, or choose another output path",
        )


def plan_export(src: Path, options: ExportOptions | None = None) -> Plan:
    """Read the source venv and decide everything; writes nothing."""
    return make_plan(load_source(src), options)


def refuse_if_needed(plan: Plan) -> None:
    """Raise RefusedError naming every blocking finding of a plan."""
    errors = plan.errors
    if not errors:
        return
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    editable = [f for f in errors if f.code == "editable"]
    if editable:
        names = ", ".join(f.message.split(" is an editable")[0] for f in editable)
        raise RefusedError(
            f"editable installs cannot be exported: {names}{more}",
            "reinstall them non-editable: `uv sync --no-editable`",
        )
    raise RefusedError(f"{first.path}: {first.message}{more}", first.hint)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C so the staging folder is removed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A fresh folder beside out (same filesystem, so the final rename is atomic)."""
    stage = Path(
        tempfile.mkdtemp(
            prefix=f".{out.name}.", suffix=".uv-portable-tmp", dir=out.resolve().parent
        )
    )
    try:
        yield stage
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path) -> None:
    """Move the finished staging folder to out, replacing an old one as late as possible."""
    if out.is_dir():
        old = Path(
            tempfile.mkdtemp(
                prefix=f".{out.name}.", suffix=".uv-portable-old", dir=out.resolve().parent
            )
        )
        os.rename(out, old / "tree")
        try:
            os.rename(stage, out)
        except BaseException:
            os.rename(old / "tree", out)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, out)


def export(
    src: Path,
    out: Path,
    options: ExportOptions | None = None,
    *,
    force: bool = False,
    verify: bool = True,
    say: Say | None = None,
) -> ExportResult:
    """Export the venv at src as a self-contained directory at out."""
    started = time.monotonic()
    emit = say or (lambda message: None)
    src, out = Path(os.path.abspath(src)), Path(os.path.abspath(out))
    source = load_source(src)
    check_output_location(src, out, force=force)
    plan = make_plan(source, options)
    refuse_if_needed(plan)
    for note in plan.notes:
        emit(note)
    with _terminate_as_interrupt(), staging_dir(out) as stage:
        root = stage / "tree"
        root.mkdir()
        materialize(plan, root)
        patched = patch_binaries(plan, root)
        findings: tuple[Finding, ...] = ()
        if verify:
            findings = tuple(verify_tree(root))
            errors = [f for f in findings if f.severity == "error"]
            if errors:
                raise VerifyError(
                    f"the export would not be portable: {errors[0].path}: {errors[0].message}",
                    errors[0].hint or "report this to uv-portable with the venv's details",
                )
            if source.base.platform == _host_platform():
                problem = smoke_run(root)
                if problem is not None:
                    raise VerifyError(
                        f"the exported interpreter does not work: {problem}",
                        "run with --no-verify to keep the output for debugging",
                    )
        publish(root, out)
    files = plan.count(CopyFile) + plan.count(WriteFile)
    size = sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
    return ExportResult(
        out=out,
        plan=plan,
        files=files,
        bytes=size,
        patched=patched,
        seconds=time.monotonic() - started,
        findings=plan.findings + findings,
    )


def _host_platform() -> str:
    return "macos" if sys.platform == "darwin" else "linux"


__all__ = ["ExportOptions", "ExportResult", "SetSearchPath", "export", "plan_export"]
