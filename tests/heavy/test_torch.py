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
from tests.heavy.harness import Export, Report, Result

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


@pytest.fixture(scope="module")
def exported(source_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Export:
    out = tmp_path_factory.mktemp("export") / "torch.tar.gz"
    return harness.export(REPORT, source_venv, out)


@pytest.fixture(scope="module")
def moved(exported: Export, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = harness.usable_archive(exported)
    return harness.unpack(REPORT, archive, tmp_path_factory.mktemp("unpacked") / "env")


def test_torch_runs_on_cpu_in_the_source(source_snippets: dict[str, Result]) -> None:
    failed = harness.failures(source_snippets, NAMES)
    assert not failed, f"torch fails in the source venv itself:\n{failed}"


def test_export_with_default_options_succeeds(exported: Export) -> None:
    proc = exported.default
    assert proc.returncode == 0, (
        f"uv-portable export exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )


def test_check_run_passes(exported: Export, source_venv: Path, work: Path) -> None:
    proc = harness.check_run(REPORT, harness.usable_archive(exported))
    assert proc.returncode == 0, harness.explain_check(proc, source_venv, work)


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
