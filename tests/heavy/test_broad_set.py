"""A broad set of popular binary-wheel packages, exported with default options from a
managed-style CPython 3.12 venv: export succeeds, `check --run` passes, and real work with each
package (not just an import) succeeds in a bare Debian root, at another path, with no Python on
the host. The source venv is the baseline: what it cannot do is not held against the export.

    nox -s e2e_heavy                       # everything (the venv is cached after the first run)
    HEAVY_PACKAGES=numpy,numba nox -s e2e_heavy
    HEAVY_EXPORT_ARGS="--allow-missing libtbb.so.12" nox -s e2e_heavy   # see harness.export
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.heavy import harness
from tests.heavy.harness import Report, Result
from tests.heavy.packages import selected
from tests.heavy.shared_tests import (  # noqa: F401 - collected here, with this module's fixtures
    test_check_run_passes,
    test_export_with_default_options_succeeds,
)
from tests.helpers import run_sandboxed

pytestmark = pytest.mark.heavy
PACKAGES = selected()
NAMES = [p.name for p in PACKAGES]
ARCHIVE = "broad.tar.gz"  # the exported fixture (conftest.py) writes this
REPORT: Report = harness.new_report("broad set")


@pytest.fixture(scope="module")
def source_venv() -> Path:
    with REPORT.stage(f"source venv ({len(PACKAGES)} requirements)") as st:
        venv = harness.cached_venv("broad", [p.requirement for p in PACKAGES])
        st.size = harness.tree_size(venv)
    return venv


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("heavy") / "work"
    return harness.write_work(folder, {p.name: p.snippet for p in PACKAGES})


@pytest.fixture(scope="module")
def source_snippets(source_venv: Path, work: Path) -> dict[str, Result]:
    with REPORT.stage("snippets in the source venv") as st:
        results = harness.run_in_source(source_venv, work, "snippets", NAMES)
        st.outcome = f"{sum(r.ok for r in results.values())}/{len(NAMES)} passed"
    for name, r in results.items():
        REPORT.record(name, "source", f"{'ok' if r.ok else 'FAIL'} {r.seconds:.1f}s")
    return results


@pytest.fixture(scope="module")
def modules(source_venv: Path) -> list[str]:
    return harness.top_level_modules(source_venv)


@pytest.fixture(scope="module")
def source_imports(source_venv: Path, work: Path, modules: list[str]) -> dict[str, Result]:
    with REPORT.stage("imports in the source venv") as st:
        results = harness.run_in_source(source_venv, work, "imports", modules)
        st.outcome = f"{sum(r.ok for r in results.values())}/{len(modules)} imported"
    return results


def test_every_snippet_passes_in_the_source(source_snippets: dict[str, Result]) -> None:
    failed = harness.failures(source_snippets, NAMES)
    assert not failed, f"snippets that fail in the source venv itself:\n{failed}"


def test_the_unprocessed_venv_fails_in_the_root(source_venv: Path, bookworm: Path) -> None:
    """Negative control: without the export, the same sandbox cannot run the venv."""
    proc = run_sandboxed(
        source_venv,
        [f"{harness.MOUNT}/bin/python", "-c", "import numpy"],
        mount_at=harness.MOUNT,
        rootfs=bookworm,
    )
    assert proc.returncode != 0, proc.stdout
    proc = run_sandboxed(source_venv, ["/bin/sh", "-c", "true"], mount_at="/x", rootfs=bookworm)
    assert proc.returncode == 0, f"the sandbox itself does not work: {proc.stderr}"


def test_snippets_pass_in_bare_debian(
    moved: Path, bookworm: Path, work: Path, source_snippets: dict[str, Result]
) -> None:
    baseline = [n for n in NAMES if source_snippets[n].ok]
    with REPORT.stage("snippets from the export in bare Debian") as st:
        results = harness.run_moved(moved, bookworm, work, "snippets", NAMES)
        st.outcome = f"{sum(results[n].ok for n in baseline)}/{len(baseline)} passed"
    for name, r in results.items():
        REPORT.record(name, "debian", f"{'ok' if r.ok else 'FAIL'} {r.seconds:.1f}s")
    failed = harness.failures(results, baseline)
    assert not failed, f"snippets that pass in the source venv but fail moved:\n{failed}"


def test_modules_the_source_imports_import_in_bare_debian(
    moved: Path,
    bookworm: Path,
    work: Path,
    modules: list[str],
    source_imports: dict[str, Result],
) -> None:
    baseline = [m for m in modules if source_imports[m].ok]
    assert len(baseline) >= len(PACKAGES), "the source venv imports almost nothing"
    with REPORT.stage("imports from the export in bare Debian") as st:
        results = harness.run_moved(moved, bookworm, work, "imports", modules)
        st.outcome = f"{sum(results[m].ok for m in baseline)}/{len(baseline)} imported"
    failed = harness.failures(results, baseline)
    assert not failed, f"modules the source venv imports but the moved export does not:\n{failed}"


def test_control_lightgbm_fails_without_the_exports_libgomp(
    moved: Path, bookworm: Path, work: Path
) -> None:
    """Negative control: the root has no libgomp, so with the export's copies hidden the
    lightgbm snippet must fail. Proves that the root is bare and the snippets can fail."""
    if "lightgbm" not in NAMES:
        pytest.skip("lightgbm is not selected")
    assert not list((bookworm / "usr" / "lib" / "x86_64-linux-gnu").glob("libgomp*"))
    copies = [p for p in moved.rglob("libgomp*.so*") if p.is_file() and not p.is_symlink()]
    assert copies, "the export holds no libgomp, yet lightgbm needs it"
    results = harness.run_moved(moved, bookworm, work, "snippets", ["lightgbm"], masks=copies)
    assert not results["lightgbm"].ok
    assert "libgomp" in results["lightgbm"].output, results["lightgbm"].output
