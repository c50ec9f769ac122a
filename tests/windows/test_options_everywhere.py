"""Every option means the same for Linux, macOS and Windows venvs: one pipeline runs them all.
Each test runs the same assertions on a venv of each platform (macOS from real macOS wheels,
Windows made by Windows uv under Wine); the exports themselves run on this Linux host."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import cli, make_venv, on_small_tmpfs
from tests.integration.test_macos import make_mac_tree
from tests.windows.fixtures import WinVenv
from uv_portable.publish.output import _HOST

PLATFORMS = ["linux", "macos", "windows"]


@dataclass(frozen=True)
class Venv:
    """A venv of one platform, how to export it, and one package's sources in an export."""

    platform: str
    path: Path
    args: tuple[str, ...]  # extra export arguments (--base for Windows)
    package: str  # export-relative folder of a pure-Python package

    def export(self, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return cli("export", str(self.path), str(out), *self.args, *extra)


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory, light_venv: WinVenv) -> dict[str, Venv]:
    linux = make_venv(tmp_path_factory.mktemp("linux") / "venv", "3.12", ["cowsay"])
    mac = make_mac_tree(tmp_path_factory.mktemp("macos"))
    return {
        "linux": Venv("linux", linux, (), "lib/python3.12/site-packages/cowsay"),
        "macos": Venv("macos", mac.venv, (), "lib/python3.12/site-packages/yaml"),
        "windows": Venv(
            "windows", light_venv.venv, ("--base", str(light_venv.base)), "Lib/site-packages/cowsay"
        ),
    }


def _pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def _manifest(out: Path) -> dict[str, object]:
    return json.loads((out / "share" / "uv-portable" / "manifest.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bytecode_by_default_and_none_with_no_compile(
    venvs: dict[str, Venv], tmp_path: Path, platform: str
) -> None:
    venv = venvs[platform]
    proc = venv.export(tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    sources = sorted((tmp_path / "out" / venv.package).glob("*.py"))
    assert sources
    for source in sources:
        pycs = list((source.parent / "__pycache__").glob(f"{source.stem}.cpython-312*.pyc"))
        assert len(pycs) == 1, source
        assert _pyc_flags(pycs[0]) & 1, f"{pycs[0]} is not hash-based"
    options = _manifest(tmp_path / "out")["options"]
    assert isinstance(options, dict) and options["bytecode"] == "unchecked-hash"
    assert "bytecode:" in proc.stderr

    bare = venv.export(tmp_path / "bare", "--no-compile")
    assert bare.returncode == 0, bare.stderr
    assert not list((tmp_path / "bare" / venv.package).glob("__pycache__/*.pyc"))
    options = _manifest(tmp_path / "bare")["options"]
    assert isinstance(options, dict) and options["bytecode"] is None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_sbom_copy(venvs: dict[str, Venv], tmp_path: Path, platform: str) -> None:
    sbom = tmp_path / "reports" / "env.cdx.json"
    proc = venvs[platform].export(tmp_path / "out.zip", "--sbom", str(sbom), "--no-compile")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(sbom.read_text())["bomFormat"] == "CycloneDX"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_dry_run_checks_the_output_and_writes_nothing(
    venvs: dict[str, Venv], tmp_path: Path, platform: str
) -> None:
    venv = venvs[platform]
    proc = cli("export", str(venv.path), str(tmp_path / "a" / "env.zip"), *venv.args, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"output:  {tmp_path / 'a' / 'env.zip'} (zip)" in proc.stdout
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("x")
    taken = venv.export(tmp_path / "taken", "--dry-run")
    assert taken.returncode == 2 and "exists and is not empty" in taken.stderr
    wrong = venv.export(tmp_path / "env.tar.xz", "--dry-run")
    assert wrong.returncode == 2 and "unsupported archive type" in wrong.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_force_replaces_only_earlier_exports(
    venvs: dict[str, Venv], tmp_path: Path, platform: str
) -> None:
    venv = venvs[platform]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    proc = venv.export(mine, "--force", "--no-compile")
    assert proc.returncode == 2 and "did not make" in proc.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    out = tmp_path / "out"
    assert venv.export(out, "--no-compile").returncode == 0
    again = venv.export(out, "--force", "--no-compile")
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_stale_staging_of_any_name_is_removed(
    venvs: dict[str, Venv], tmp_path: Path, platform: str
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / f".other.zip.{gone.pid}-{_HOST}-abcd.uv-portable-tmp"
    (stale / "tree").mkdir(parents=True)
    proc = venvs[platform].export(tmp_path / "out", "--no-compile")
    assert proc.returncode == 0, proc.stderr
    assert "removed 1 leftover(s)" in proc.stderr
    assert not stale.exists()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_full_disk_is_exit_6(venvs: dict[str, Venv], tmp_path: Path, platform: str) -> None:
    venv = venvs[platform]
    disk = tmp_path / "disk"
    disk.mkdir()
    export = ["export", str(venv.path), f"{disk}/out", *venv.args]
    proc = on_small_tmpfs(disk, "4m", export, after=f"ls -A {disk}")
    assert proc.stdout.strip().endswith("rc=6"), (proc.stdout, proc.stderr)
    assert "no space left" in proc.stderr and "Traceback" not in proc.stderr
