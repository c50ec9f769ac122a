"""The tests every heavy set runs alike; each heavy module imports them, and pytest collects
them there with that module's fixtures (its source venv, its report)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.heavy import harness
from tests.heavy.harness import Export


def test_export_with_default_options_succeeds(exported: Export) -> None:
    proc = exported.default
    assert proc.returncode == 0, (
        f"uv-portable export exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )


def test_check_run_passes(
    request: pytest.FixtureRequest, exported: Export, source_venv: Path, work: Path
) -> None:
    proc = harness.check_run(request.module.REPORT, harness.usable_archive(exported))
    assert proc.returncode == 0, harness.explain_check(proc, source_venv, work)
