"""What differs between a Linux or macOS venv and a Windows venv, behind one interface: how the
source is read and planned, how staged binaries are patched, and how the staged tree is checked.
The export pipeline (uv_portable.api) runs the same stages for each, like pypa/installer's
``install()`` against a ``WheelDestination``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from uv_portable.errors import UsageError
from uv_portable.model import Plan, SourceEnv
from uv_portable.prove.verification import SourceBaseline, Verified
from uv_portable.settings import PlanOptions, SandboxRequest


class Platform(Protocol):
    """One kind of venv (posix: Linux and macOS; windows)."""

    @property
    def source(self) -> SourceEnv:
        """The venv as read from disk."""
        ...

    def plan(self, options: PlanOptions) -> Plan:
        """Every decision of the export; writes nothing."""
        ...

    def format_notes(self, fmt: str) -> tuple[str, ...]:
        """What the user should know about writing this platform's export as fmt."""
        ...

    def patch(self, plan: Plan, root: Path) -> tuple[int, list[str]]:
        """Apply the plan's binary edits to the staged tree: how many files, and notes."""
        ...

    def verify(
        self,
        root: Path,
        plan: Plan,
        options: PlanOptions,
        modules: Sequence[str],
        source_run: Future[SourceBaseline] | None,
        sandbox: SandboxRequest = "auto",
    ) -> Verified:
        """Check the staged tree (and its imports against the source's, where they can run
        here); the first error is raised as VerifyError."""
        ...


def load_platform(src: Path, base: Path | None = None) -> Platform:
    """Read the venv at src with the platform it was made for (``base``: a Windows venv's base
    install as seen from this machine)."""
    from uv_portable.platforms.windows import WindowsPlatform, is_windows_venv

    path = Path(os.path.abspath(src))
    if is_windows_venv(path):
        return WindowsPlatform.load(path, base)
    if base is not None:
        raise UsageError(
            f"--base is for Windows venvs, and {path} is not one",
            "drop --base (and `base` in the config) for Linux and macOS venvs",
        )
    from uv_portable.platforms.posix import PosixPlatform

    return PosixPlatform.load(path)
