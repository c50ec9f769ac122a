"""The CUDA-enabled torch set from PyPI (torch and its nvidia-* wheels, ~5 GB), exported with
default options from a managed-style CPython 3.12 venv, runs torch on CPU in a bare Debian root
at another path. The target has no NVIDIA driver: CUDA must be reported unavailable, not crash.

    nox -s e2e_torch
    HEAVY_UV_ARGS="--find-links /opt/pypi-more/files" nox -s e2e_torch   # local CUDA wheels
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.heavy import harness
from tests.heavy.harness import Report, Result
from tests.heavy.shared_tests import (  # noqa: F401 - collected here, with this module's fixtures
    test_check_run_passes,
    test_export_with_default_options_succeeds,
)

pytestmark = pytest.mark.torch
REQUIREMENT = "torch==2.14.1"
SNIPPETS = {
    "torch-cpu": """
import torch
assert torch.ones(3).sum().item() == 3.0
a = torch.arange(6.0).reshape(2, 3)
assert torch.allclose(a @ a.T, torch.tensor([[5.0, 14.0], [14.0, 50.0]]))
assert torch.version.cuda, "not the CUDA build"
assert not torch.cuda.is_available()
print("torch", torch.__version__, "cuda", torch.version.cuda)
""",
    "torch-nn": """
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(64, 4)
y = x.sum(dim=1, keepdim=True)
first = None
for _ in range(50):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    first = first if first is not None else loss.item()
assert loss.item() < first / 4, (first, loss.item())
""",
}
NAMES = list(SNIPPETS)
ARCHIVE = "torch.tar.gz"  # the exported fixture (conftest.py) writes this
REPORT: Report = harness.new_report("torch")


@pytest.fixture(scope="module")
def source_venv() -> Path:
    with REPORT.stage(f"source venv ({REQUIREMENT}, CUDA build)") as st:
        venv = harness.cached_venv("torch", [REQUIREMENT])
        st.size = harness.tree_size(venv)
    return venv


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("torch") / "work"
    return harness.write_work(folder, {n: s.strip() + "\n" for n, s in SNIPPETS.items()})


@pytest.fixture(scope="module")
def source_snippets(source_venv: Path, work: Path) -> dict[str, Result]:
    with REPORT.stage("snippets in the source venv") as st:
        results = harness.run_in_source(source_venv, work, "snippets", NAMES)
        st.outcome = f"{sum(r.ok for r in results.values())}/{len(NAMES)} passed"
    return results


def test_torch_runs_on_cpu_in_the_source(source_snippets: dict[str, Result]) -> None:
    failed = harness.failures(source_snippets, NAMES)
    assert not failed, f"torch fails in the source venv itself:\n{failed}"


def test_torch_runs_on_cpu_in_bare_debian(
    moved: Path, bookworm: Path, work: Path, source_snippets: dict[str, Result]
) -> None:
    with REPORT.stage("torch from the export in bare Debian") as st:
        results = harness.run_moved(moved, bookworm, work, "snippets", NAMES)
        st.outcome = f"{sum(r.ok for r in results.values())}/{len(NAMES)} passed"
    baseline = [n for n in NAMES if source_snippets[n].ok]
    assert baseline == NAMES, "torch must work in the source first"
    failed = harness.failures(results, baseline)
    assert not failed, f"torch work that passes in the source venv but fails moved:\n{failed}"


def test_modules_the_source_imports_import_in_bare_debian(
    moved: Path, bookworm: Path, work: Path, source_venv: Path
) -> None:
    modules = harness.top_level_modules(source_venv)
    with REPORT.stage("imports in the source venv") as st:
        source = harness.run_in_source(source_venv, work, "imports", modules)
        baseline = [m for m in modules if source[m].ok]
        st.outcome = f"{len(baseline)}/{len(modules)} imported"
    assert "torch" in baseline and "triton" in baseline, "the source venv cannot import torch"
    with REPORT.stage("imports from the export in bare Debian") as st:
        results = harness.run_moved(moved, bookworm, work, "imports", modules)
        st.outcome = f"{sum(results[m].ok for m in baseline)}/{len(baseline)} imported"
    failed = harness.failures(results, baseline)
    assert not failed, f"modules the source venv imports but the moved export does not:\n{failed}"
