"""A freshly unpacked archive, read-only and run by a non-root user (how YARN localizes
archives): every import is served from the shipped bytecode, nothing is compiled or written."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import cli, run

pytestmark = pytest.mark.e2e
MOUNT = "/srv/unpacked/environment"
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
MODULES = "asyncio email.message http.client json decimal argparse logging unittest cowsay"
# Records every module compiled from source in this process (the audit event of compile()).
PROBE = f"""
import sys
compiled = []
sys.addaudithook(
    lambda event, args: compiled.append(args[1])
    if event == "compile" and str(args[1]).endswith(".py") else None
)
for name in {MODULES.split()!r}:
    __import__(name)
import json
print(json.dumps({{"compiled": compiled, "dont_write_bytecode": sys.flags.dont_write_bytecode}}))
"""


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="uv-portable-cold-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _files(tree: Path) -> set[str]:
    return {str(p.relative_to(tree)) for p in tree.rglob("*")}


def _cold_run(archive: Path, dest: Path) -> dict[str, object]:
    """Unpack, then import MODULES as nobody from a read-only mount, host Python hidden."""
    from uv_portable.prove.sandbox import sandbox_argv

    dest.mkdir()
    run(["tar", "-xf", str(archive), "-C", str(dest)])
    before = _files(dest)
    argv = sandbox_argv(dest, MOUNT, [f"{MOUNT}/bin/python", "-c", PROBE], readonly=True)
    proc = run([*NOBODY, *argv])
    assert _files(dest) == before, "the run wrote into the tree"
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    assert result["dont_write_bytecode"] == 0  # it would write pycs if it could
    return result


def test_read_only_non_root_run_compiles_nothing(
    small_venv: Path, public_tmp: Path, bwrap: str
) -> None:
    archive = public_tmp / "env.tar.gz"
    proc = cli("export", str(small_venv), str(archive))
    assert proc.returncode == 0, proc.stderr
    assert _cold_run(archive, public_tmp / "x")["compiled"] == []


def test_without_compile_the_same_run_compiles_from_source(
    small_venv: Path, public_tmp: Path, bwrap: str
) -> None:
    """The negative control: normalised mtimes make the base's timestamp pycs stale."""
    archive = public_tmp / "env.tar.gz"
    proc = cli("export", str(small_venv), str(archive), "--no-compile")
    assert proc.returncode == 0, proc.stderr
    compiled = _cold_run(archive, public_tmp / "x")["compiled"]
    assert isinstance(compiled, list)
    assert any("site-packages/cowsay" in str(p) for p in compiled)
    assert any(str(p).endswith("/argparse.py") for p in compiled)
