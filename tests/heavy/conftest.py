"""Heavy proofs: print every report's stage and package tables at the end of the run, and
keep them as JSON in the test cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.heavy import harness
from tests.heavy.harness import HEAVY_CACHE, REPORTS, Export
from tests.helpers import debian_root


@pytest.fixture(scope="session")
def bookworm() -> Path:
    """The cached bare Debian bookworm root (no Python, no libssl, no libgomp, ...)."""
    return debian_root("bookworm")


@pytest.fixture(scope="module")
def exported(
    request: pytest.FixtureRequest, source_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Export:
    """The default export of the module's source venv, to the module's ARCHIVE name."""
    out = tmp_path_factory.mktemp("export") / request.module.ARCHIVE
    return harness.export(request.module.REPORT, source_venv, out)


@pytest.fixture(scope="module")
def moved(
    request: pytest.FixtureRequest, exported: Export, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The export unpacked at another path."""
    archive = harness.usable_archive(exported)
    folder = tmp_path_factory.mktemp("unpacked") / "env"
    return harness.unpack(request.module.REPORT, archive, folder)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the heavy reports, and write them to the test cache."""
    for report in REPORTS:
        if not report.stages:  # its tests were not selected
            continue
        terminalreporter.write_line("")
        for line in report.table().splitlines():
            terminalreporter.write_line(line)
        HEAVY_CACHE.mkdir(parents=True, exist_ok=True)
        path = HEAVY_CACHE / f"report-{report.label.replace(' ', '-')}.json"
        path.write_text(json.dumps(report.to_json(), indent=2))
        terminalreporter.write_line(f"(written to {path})")
