"""`uv-portable build` of a fixture uv project, its config, and the pre-commit hooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers import REPO, cli, run, run_sandboxed, uv_env
from tests.integration.test_bad_input import USAGE, assert_clean_failure

TOOL_FAILED = 6  # an external tool is missing or failed, as for patchelf

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "demo_project"
MOUNT = "/opt/demo"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "demo_project"
    shutil.copytree(FIXTURE, dest)
    return dest


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, env=env or uv_env())


def _sandbox_imports(tree: Path, modules: list[str]) -> dict[str, bool]:
    code = (
        "import importlib.util, json, sys; print(json.dumps({m: importlib.util.find_spec(m)"
        " is not None for m in sys.argv[1:]}))"
    )
    proc = run_sandboxed(tree, [f"{MOUNT}/bin/python", "-c", code, *modules], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    import json

    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_build_default_target_is_an_archive_without_dev_group(
    project: Path, tmp_path: Path, bwrap: str
) -> None:
    proc = _cli("build", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "config: [tool.uv-portable]" in proc.stderr
    # which base uv picked, and the glibc floor that sets (Linux)
    assert "base interpreter: CPython" in proc.stderr and "glibc >=" in proc.stderr
    assert f"exported the project {project} (CPython" in proc.stderr  # not its temporary venv
    archive = project / "dist" / "demo.tar.gz"
    assert not (project / ".venv").exists(), "build must not create or touch the project's .venv"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    proc = run_sandboxed(unpacked, [f"{MOUNT}/bin/demo-app"], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert f"demo-app on {MOUNT}" in proc.stdout
    found = _sandbox_imports(unpacked, ["demo_app", "cowsay", "six", "yaml", "tomli"])
    assert found == {
        "demo_app": True,
        "cowsay": True,
        "six": False,
        "yaml": False,
        "tomli": False,  # in the dev group only
    }


def test_build_target_with_group_and_extra(project: Path, bwrap: str) -> None:
    proc = _cli("build", "--target", "yaml", cwd=project)
    assert proc.returncode == 0, proc.stderr
    tree = project / "dist" / "demo-yaml"
    found = _sandbox_imports(tree, ["demo_app", "six", "yaml", "tomli"])
    assert found == {"demo_app": True, "six": False, "yaml": True, "tomli": True}
    assert not (project / ".venv").exists()


def test_existing_project_venv_is_untouched(project: Path, tmp_path: Path) -> None:
    run(["uv", "sync", "-q", "--frozen"], cwd=project, env=uv_env())
    before = sorted(str(p.relative_to(project)) for p in (project / ".venv").rglob("*"))
    proc = _cli("build", "-o", str(tmp_path / "out"), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert sorted(str(p.relative_to(project)) for p in (project / ".venv").rglob("*")) == before
    assert (tmp_path / "out" / "bin" / "demo-app").exists()


def test_export_reads_output_from_config(project: Path, small_venv: Path) -> None:
    proc = _cli("export", str(small_venv), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert (project / "dist" / "demo.tar.gz").is_file()


def test_no_pyproject(tmp_path: Path) -> None:
    proc = _cli("build", str(tmp_path), cwd=tmp_path)
    assert_clean_failure(proc, USAGE, "no pyproject.toml")


def test_invalid_config_runs_nothing(project: Path) -> None:
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace('output = "dist/demo.tar.gz"', 'output = "dist/demo.tar.gz"\ntarget-glibc = 2')
    )
    (project / "pyproject.toml").write_text(text)
    proc = _cli("build", cwd=project)
    assert_clean_failure(
        proc, USAGE, '[tool.uv-portable] target-glibc: expected a version like "2.28"'
    )
    assert not (project / "dist").exists()


def test_missing_section_uses_defaults_and_says_so(project: Path) -> None:
    text = (project / "pyproject.toml").read_text().split("[tool.uv-portable]")[0]
    (project / "pyproject.toml").write_text(text)
    proc = _cli("build", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "defaults (no [tool.uv-portable]" in proc.stderr
    assert (project / "dist" / "demo_project-portable" / "bin" / "demo-app").exists()


def test_stale_lock_file(project: Path) -> None:
    text = (project / "pyproject.toml").read_text().replace('"cowsay>=6"', '"cowsay>=6", "six"')
    (project / "pyproject.toml").write_text(text)
    proc = _cli("build", cwd=project)
    assert proc.returncode == 6, proc.stderr
    assert "uv lock" in proc.stderr and "Traceback" not in proc.stderr
    assert "  | " in proc.stderr  # uv's own words are shown
    assert not (project / "dist" / "demo.tar.gz").exists()


def test_install_failure_without_network(project: Path) -> None:
    env = uv_env()
    env.update(
        UV_NO_CACHE="1",
        UV_INDEX_URL="http://127.0.0.1:9/simple",
        UV_DEFAULT_INDEX="http://127.0.0.1:9/simple",
        UV_HTTP_RETRIES="0",
    )
    proc = _cli("build", cwd=project, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "uv sync failed" in proc.stderr and "hint:" in proc.stderr
    assert not (project / "dist" / "demo.tar.gz").exists()


def _fake_uv(folder: Path, version: str) -> dict[str, str]:
    folder.mkdir()
    script = folder / "uv"
    script.write_text(f"#!/bin/sh\necho 'uv {version}'\n")
    script.chmod(0o755)
    env = uv_env()
    env["PATH"] = f"{folder}:/usr/bin:/bin"
    return env


def test_uv_missing_or_too_old(project: Path, tmp_path: Path) -> None:
    env = uv_env()
    env["PATH"] = "/usr/bin:/bin"
    empty = tmp_path / "nouv"
    empty.mkdir()
    env["PATH"] = str(empty)
    proc = _cli("build", cwd=project, env=env)
    assert_clean_failure(proc, TOOL_FAILED, "uv is not installed")
    proc = _cli("build", cwd=project, env=_fake_uv(tmp_path / "old", "0.4.9"))
    assert_clean_failure(proc, TOOL_FAILED, "needs uv >= 0.5.0")


def test_config_command_shows_merged_config(project: Path) -> None:
    proc = _cli("config", "--target", "yaml", "--json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    import json

    data = json.loads(proc.stdout)
    assert data["output"] == "dist/demo-yaml" and data["groups"] == ["yaml"]


def test_pre_commit_config_hook(project: Path, tmp_path: Path) -> None:
    """The real pre-commit runs our hook from this repository: pass, then fail with the message."""
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(Path.home() / ".cache" / "uv-portable-tests" / "pre-commit"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    argv = [
        sys.executable,
        "-m",
        "pre_commit",
        "try-repo",
        str(REPO),
        "uv-portable-check-config",
        "--files",
        "pyproject.toml",
    ]
    ok = subprocess.run(argv, capture_output=True, text=True, cwd=project, env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace("[tool.uv-portable]\n", "[tool.uv-portable]\noutptu = 1\n")
    )
    (project / "pyproject.toml").write_text(text)
    run(["git", "add", "-A"], cwd=project)
    bad = subprocess.run(argv, capture_output=True, text=True, cwd=project, env=env, check=False)
    assert bad.returncode != 0
    assert "Failed" in bad.stdout
    assert "outptu: unknown key" in bad.stdout and "did you mean `output`?" in bad.stdout


def test_build_finds_the_project_upward_as_uv_does(project: Path) -> None:
    sub = project / "src" / "demo_app"
    proc = _cli("build", "--dry-run", cwd=sub)
    assert proc.returncode == 0, proc.stderr
    assert f"would build {project} into {project / 'dist' / 'demo.tar.gz'} (tar.gz)" in proc.stderr
    assert not (project / "dist").exists() and not (project / ".venv").exists()


def test_build_of_a_missing_path_says_so(tmp_path: Path) -> None:
    proc = _cli("build", str(tmp_path / "nonexist"), cwd=tmp_path)
    assert_clean_failure(proc, USAGE, "does not exist")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--group", "spark"], "--group: the project defines no group 'spark' (defined: dev, yaml"),
        (["--extra", "gpu"], "--extra: the project defines no extra 'gpu' (defined: fast"),
        (["--level", "99"], "--level: expected a whole number from 0 to 22"),
        (["-o", "out.tar.gz", "--format", "zip"], "--format: format zip contradicts the name"),
    ],
)
def test_build_dry_run_checks_everything_before_uv_runs(
    project: Path, args: list[str], says: str
) -> None:
    for dry in (["--dry-run"], []):
        proc = _cli("build", *dry, *args, cwd=project)
        assert_clean_failure(proc, USAGE, says)
        assert not (project / "dist").exists() and not (project / ".venv").exists()
        assert "creating a fresh environment" not in proc.stderr


def test_config_prints_toml_with_each_keys_origin(project: Path) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    proc = _cli("config", "--target", "yaml", cwd=project)
    assert proc.returncode == 0, proc.stderr
    table = tomllib.loads(proc.stdout)["tool"]["uv-portable"]
    assert table["output"] == "dist/demo-yaml" and table["groups"] == ["yaml"]
    lines = {ln.split(" =")[0].lstrip("# "): ln for ln in proc.stdout.splitlines() if " = " in ln}
    assert lines["output"].endswith("# [tool.uv-portable.targets.yaml]")
    assert lines["bundle"].endswith("# default")
    assert "format" not in table and lines["format"].startswith("# format = (not set)")
