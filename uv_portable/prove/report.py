"""What `check` found about one path, for the CLI (text, JSON) and the Python API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uv_portable.errors import ToolError
from uv_portable.glibc_version import GlibcVersion, floor_of
from uv_portable.model import Finding, finding_json, symbol_versions_json
from uv_portable.prove.probe import ProbeRun


@dataclass(frozen=True)
class CheckReport:
    """The result of checking one path."""

    path: str
    findings: tuple[Finding, ...]
    glibc: tuple[tuple[str, GlibcVersion], ...] = ()
    run: ProbeRun | None = None
    manifest: bool = False  # whether a manifest was found and compared
    host_requirements: tuple[str, ...] = ()
    matched: int | None = None  # files whose hashes match the manifest (None: not compared)
    run_error: ToolError | None = None  # the sandbox could not start: the host's, not the tree's
    notes: tuple[str, ...] = ()  # facts about where it runs that no check here can see
    symbol_versions: tuple[tuple[str, str, str], ...] = ()  # (family, version, path)

    @property
    def glibc_floor(self) -> GlibcVersion | None:
        """The newest glibc any file needs."""
        return floor_of(v for _, v in self.glibc)

    @property
    def ok(self) -> bool:
        """No error findings (a failed run adds error findings)."""
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (for ``--json``)."""
        run = None
        if self.run is not None:
            run = {
                "sandbox": self.run.isolation,
                "started": self.run.started,
                "ok": self.ok,
                "message": self.run.message,
                "imported": list(self.run.imported),
                "failures": [{"module": m, "error": e} for m, e in self.run.failed.items()],
            }
        elif self.run_error is not None:
            run = {"started": False, "error": self.run_error.message}
        return {
            "path": self.path,
            "ok": self.ok,
            "manifest": self.manifest,
            "files_matched": self.matched,
            "glibc_floor": str(self.glibc_floor) if self.glibc_floor else None,
            "glibc_per_file": {p: str(v) for p, v in self.glibc},
            "symbol_versions": symbol_versions_json(self.symbol_versions),
            "host_requirements": list(self.host_requirements),
            "findings": [finding_json(f) for f in self.findings],
            "run": run,
            "notes": list(self.notes),
        }
