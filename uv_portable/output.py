"""Where results go: output locations checked up front, a staging folder beside the output,
and an atomic publish; SIGTERM unwinds like Ctrl-C so nothing half-written stays."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from uv_portable.errors import Interrupted, UsageError


def check_output_location(
    src: Path, out: Path, *, force: bool, fmt: str = "dir", make_parent: bool = False
) -> None:
    """Refuse outputs that overlap the source or would clobber data.

    With ``make_parent``, a missing output folder is fine if it can be created.
    """
    src_real, out_real = src.resolve(), out.resolve()
    if out_real.is_relative_to(src_real):
        raise UsageError(
            f"output {out} is inside the source {src}", "choose an output path outside the venv"
        )
    if src_real.is_relative_to(out_real):
        raise UsageError(
            f"the source {src} is inside the output {out}",
            "choose an output folder that does not contain the venv",
        )
    parent = out_real.parent
    while make_parent and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"output folder {parent} does not exist", f"create it: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"output folder {parent} is not writable", "choose another output location"
        )
    if fmt == "dir":
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise UsageError(
                f"output {out} exists and is not a folder",
                "remove it or choose another output path",
            )
        if out.is_dir() and any(out.iterdir()) and not force:
            raise UsageError(
                f"output {out} exists and is not empty",
                "pass --force to replace it, or choose another output path",
            )
    elif out.is_dir():
        raise UsageError(
            f"output {out} is a folder, not a {fmt} file", "choose a file name such as env.tar.gz"
        )
    elif out.exists() and not force:
        raise UsageError(
            f"output {out} already exists",
            "pass --force to replace it, or choose another output path",
        )


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
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
    """A fresh folder beside out (same filesystem, so the final rename is atomic).

    Named before it is made, inside the try: a signal right after mkdir still removes it.
    """
    stage = out.resolve().parent / f".{out.name}.{secrets.token_hex(6)}.uv-portable-tmp"
    try:
        stage.mkdir()
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path) -> None:
    """Move the finished staging folder to out, replacing an old one as late as possible."""
    if out.is_dir():
        old = out.resolve().parent / f".{out.name}.{secrets.token_hex(6)}.uv-portable-old"
        os.rename(out, old)
        try:
            os.rename(stage, out)
        except BaseException:
            os.rename(old, out)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, out)
