"""Differential import verification: what imports in the source venv must import in the
export; what fails in both is the source's problem, recorded, never the export's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from uv_portable.findings import Code, finding
from uv_portable.model import Distribution, Finding
from uv_portable.prove.probe import ProbeRun
from uv_portable.source.distributions import entry_point_targets, importable_modules

# Extension modules of the standard library that need shared libraries: the first to break
# when an interpreter is moved without them.
STDLIB_MODULES = (
    "ssl",
    "sqlite3",
    "ctypes",
    "lzma",
    "bz2",
    "zlib",
    "decimal",
    "uuid",
    "pyexpat",
    "hashlib",
    "readline",
    "select",
    "json",
)
# Import errors that are about portability whatever the baseline: a library or symbol the
# loader cannot find.
_PORTABILITY = re.compile(
    r"cannot open shared object file|Library not loaded|image not found|"
    r"undefined symbol|version `GLIBC_|No module named 'encodings'"
)


def modules_to_probe(dists: tuple[Distribution, ...]) -> tuple[str, ...]:
    """What a run imports: the standard library's extensions, every distribution's top-level
    modules, and every console/GUI script's entry point (``module:attr``)."""
    return (*STDLIB_MODULES, *importable_modules(dists), *entry_point_targets(dists))


def _kind(name: str) -> str:
    """What a probed name is, when not a module: a message's first words."""
    return "a script's entry point: " if ":" in name else ""


def _what(name: str) -> str:
    """How a probed name reads in a message: a module, or a script's entry point."""
    return f"entry point {name}" if ":" in name else name


@dataclass(frozen=True)
class ImportBaseline:
    """What the source venv could import: the promise an export keeps."""

    ok: tuple[str, ...]
    broken: dict[str, str] = field(default_factory=dict)  # module -> error in the source

    def to_json(self, isolation: str) -> dict[str, Any]:
        """The manifest's "imports" section."""
        return {
            "baseline": list(self.ok),
            "broken_in_source": dict(sorted(self.broken.items())),
            "isolation": isolation,
        }


def baseline_of(run: ProbeRun) -> ImportBaseline:
    """The baseline from a run of the source venv's interpreter."""
    return ImportBaseline(tuple(sorted(run.imported)), dict(sorted(run.failed.items())))


def not_started(run: ProbeRun, *, exporting: bool = True) -> Finding | None:
    """An error when the interpreter did not start, or does not live in its own tree."""
    if not run.started:
        return finding(
            "interpreter-failed",
            "bin/python",
            f"the interpreter {run.message} ({run.isolation} isolation)",
            hint="run with --no-verify to keep the output for debugging, and report it"
            if exporting
            else "run its bin/python by hand to see the whole error, and report it",
        )
    outside = run.outside()
    if outside is not None:
        return finding(
            "interpreter-outside", "bin/python", f"{outside} ({run.isolation} isolation)"
        )
    return None


def compare(
    baseline: ImportBaseline,
    run: ProbeRun,
    owners: dict[str, str] | None = None,
    *,
    exporting: bool = True,
) -> list[Finding]:
    """Findings of an export's run against the source's baseline: lost imports are errors,
    imports broken in both are warnings, named by the distribution that ships them
    (``owners``: top-level module -> distribution)."""
    first = not_started(run, exporting=exporting)
    if first is not None:
        return [first]
    failed = run.failed
    findings = [
        finding(
            "import-lost",
            module,
            f"{_kind(module)}imports in the source venv but not in the export: {failed[module]}",
            subject=module,
        )
        for module in baseline.ok
        if module in failed
    ]
    named = owners or {}
    for module, error in sorted(baseline.broken.items()):
        top = module.partition(":")[0].partition(".")[0]
        findings.append(
            finding(
                "broken-in-source",
                named.get(top, module),
                f"already broken in the source: {_what(module)}: {error}",
                subject=module,
            )
        )
    return findings


def judge_without_baseline(run: ProbeRun) -> list[Finding]:
    """``check --run`` without a manifest: only portability problems are errors (the
    interpreter, a missing shared library, a standard-library extension); other import
    errors are listed as information, since the source may not import them either."""
    first = not_started(run, exporting=False)
    if first is not None:
        return [first]
    findings = []
    for module, error in sorted(run.failed.items()):
        portability = module in STDLIB_MODULES or bool(_PORTABILITY.search(error))
        code: Code = "import-failed" if portability else "import-failed-unknown"
        findings.append(finding(code, module, f"import fails: {error}", subject=module))
    return findings
