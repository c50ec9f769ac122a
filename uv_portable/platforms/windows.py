"""Windows venvs: an installed-CPython layout, launchers retargeted in the plan, DLL imports
and leftovers of the build paths checked statically (their imports run under Wine in `check`)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from uv_portable.model import Plan, SourceEnv, WriteFile
from uv_portable.prove.verification import SourceBaseline, Verified, raise_first_error
from uv_portable.settings import PlanOptions, SandboxRequest
from uv_portable.windows.detect import WindowsVenv, is_windows_venv, load_windows_venv
from uv_portable.windows.plan import make_windows_plan
from uv_portable.windows.verify import verify_windows_tree

__all__ = ["WindowsPlatform", "is_windows_venv"]


@dataclass(frozen=True)
class WindowsPlatform:
    """A Windows venv, read here (on Windows, or from another OS with ``--base``)."""

    venv: WindowsVenv

    @classmethod
    def load(cls, path: Path, base: Path | None) -> WindowsPlatform:
        """Read the venv and locate its base install (SourceError when unusable)."""
        return cls(load_windows_venv(path, base))

    @property
    def source(self) -> SourceEnv:
        """The venv as read from disk."""
        return self.venv.source

    def plan(self, options: PlanOptions) -> Plan:
        """The installed-CPython plan; launchers are rewritten as planned writes."""
        return make_windows_plan(self.venv, options)

    def format_notes(self, fmt: str) -> tuple[str, ...]:
        """Windows unpacks .zip by itself; a tar needs extra tools there."""
        if fmt in ("dir", "zip"):
            return ()
        return ("tip: .zip is the archive format Windows unpacks without extra tools",)

    def patch(self, plan: Plan, root: Path) -> tuple[int, list[str]]:
        """Nothing left to patch: the retargeted launchers were written by the plan."""
        launchers = sum(
            1 for a in plan.actions if isinstance(a, WriteFile) and a.dest.endswith(".exe")
        )
        return launchers, []

    def verify(
        self,
        root: Path,
        plan: Plan,
        options: PlanOptions,
        modules: Sequence[str],
        source_run: Future[SourceBaseline] | None,
        sandbox: SandboxRequest = "auto",
    ) -> Verified:
        """DLL imports, launchers, names and build-path leftovers of the staged tree."""
        found = verify_windows_tree(
            root, self.venv.build_paths, options.allow_missing, options.bundle
        )
        raise_first_error(found, "the export would not be portable")
        extra = tuple(f for f in found if f not in plan.findings)
        return Verified(extra, requirements=plan.host_data)
