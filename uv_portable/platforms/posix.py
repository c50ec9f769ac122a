"""Linux and macOS venvs: the merged-prefix plan, ELF and Mach-O patching, static checks and the
imports run moved with the host's Python hidden."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from uv_portable.model import Plan, SourceEnv
from uv_portable.plan import make_plan
from uv_portable.prove.verification import SourceBaseline, Verified, verify_export
from uv_portable.settings import PlanOptions, SandboxRequest
from uv_portable.source.venv import load_source
from uv_portable.write.patch import patch_binaries


@dataclass(frozen=True)
class PosixPlatform:
    """A Linux or macOS venv."""

    source: SourceEnv

    @classmethod
    def load(cls, path: Path) -> PosixPlatform:
        """Read the venv (SourceError when it is unusable)."""
        return cls(load_source(path))

    def plan(self, options: PlanOptions) -> Plan:
        """The merged-prefix plan."""
        return make_plan(self.source, options)

    def format_notes(self, fmt: str) -> tuple[str, ...]:
        """Nothing to add: every format unpacks on Linux and macOS."""
        return ()

    def patch(self, plan: Plan, root: Path) -> tuple[int, list[str]]:
        """RUNPATHs, install names, ad-hoc signatures."""
        return patch_binaries(plan, root)

    def verify(
        self,
        root: Path,
        plan: Plan,
        options: PlanOptions,
        modules: Sequence[str],
        source_run: Future[SourceBaseline] | None,
        sandbox: SandboxRequest = "auto",
    ) -> Verified:
        """Static checks, then the imports against the source's."""
        return verify_export(root, plan, tuple(modules), source_run, sandbox)
