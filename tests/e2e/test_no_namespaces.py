"""Hosts that cannot nest namespaces (Docker's default profile, many CI runners), issue 19:
`export` and `check --run` run inside `bwrap --unshare-user --disable-userns`, where a
second bwrap fails with ENOSPC. The sandbox is probed, not assumed: both succeed and say
which isolation they used, and a broken export is still caught there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.e2e
ENOSPC = "Creating new namespace failed"
# As root, unshare still works in there; as another user, nothing isolates.
AS_ROOT: tuple[str, ...] = ()
AS_NOBODY = ("--uid", "65534", "--gid", "65534")
LEAKY = (
    "import sys\n"
    "# Imports only where the source venv lives: a stand-in for a module that leans on the\n"
    "# build host, which the export's differential verification must catch.\n"
    "assert sys.prefix == {prefix!r}, sys.prefix\n"
)


def nested(*args: str, user: tuple[str, ...] = AS_ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m uv_portable ARGS` where no new namespace can be made."""
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap is not installed; .ci/run installs it"
    argv = [bwrap, "--dev-bind", "/", "/", "--unshare-user", "--disable-userns", *user, "--"]
    argv += [sys.executable, "-m", "uv_portable", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)


def test_the_host_really_cannot_nest_there() -> None:
    bwrap = shutil.which("bwrap")
    assert bwrap
    proc = subprocess.run(
        [
            bwrap,
            "--dev-bind",
            "/",
            "/",
            "--unshare-user",
            "--disable-userns",
            "--",
            bwrap,
            "--dev-bind",
            "/",
            "/",
            "--unshare-all",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and ENOSPC in proc.stderr


@pytest.mark.parametrize(
    ("user", "how"),
    [
        (AS_ROOT, "verified with unshare (the host's Python hidden)"),
        (AS_NOBODY, "verified without isolation: this host cannot create namespaces (bwrap: "),
    ],
    ids=["root", "nobody"],
)
def test_export_and_check_run_succeed_and_say_how(
    small_venv: Path, tmp_path: Path, user: tuple[str, ...], how: str
) -> None:
    out = tmp_path / "env.tar.gz"
    proc = nested("export", str(small_venv), str(out), user=user)
    assert proc.returncode == 0, proc.stderr
    assert how in proc.stderr, proc.stderr
    assert "the bwrap sandbox" not in proc.stderr and "did not start" not in proc.stderr
    checked = nested("check", str(out), "--run", user=user)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"run:     interpreter started {how.removeprefix('verified ')}" in checked.stdout
    assert "result:  self-contained" in checked.stdout
    # Asked for bwrap by name, the host's failure is said as such: exit 6, not the tree's.
    asked = nested("check", str(out), "--run", "--sandbox", "bwrap", user=user)
    assert asked.returncode == 6, asked.stdout + asked.stderr
    assert f"cannot sandbox here: bwrap: {ENOSPC}" in asked.stderr
    assert "NOT self-contained" not in asked.stdout


def test_a_broken_export_is_still_caught_there(small_venv_copy: Path, tmp_path: Path) -> None:
    site = next(small_venv_copy.glob("lib/python3*/site-packages"))
    (site / "leaky.py").write_text(LEAKY.format(prefix=str(small_venv_copy)))
    info = site / "leaky-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky\nVersion: 1.0\n")
    (info / "RECORD").write_text("leaky.py,,\n")
    for user in (AS_ROOT, AS_NOBODY):
        out = tmp_path / f"env{len(user)}"
        proc = nested("export", str(small_venv_copy), str(out), user=user)
        assert proc.returncode == 1, proc.stderr  # verification failed: the export's fault
        assert "leaky: imports in the source venv but not in the export" in proc.stderr
        assert not out.exists()


def test_check_run_still_catches_a_broken_tree_there(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "env"
    proc = nested("export", str(small_venv), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verified_with"] == "unshare"
    shutil.rmtree(next(out.glob("lib/python3*/encodings")))  # the interpreter cannot start
    for user in (AS_ROOT, AS_NOBODY):
        checked = nested("check", str(out), "--run", "--json", user=user)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        report = json.loads(checked.stdout)
        codes = {f["code"] for f in report["findings"]}
        assert "interpreter-failed" in codes, report["findings"]
        hints = " ".join(f["hint"] for f in report["findings"])
        assert "--no-verify" not in hints and "export with uv-portable" not in hints  # issue 19
        assert report["run"]["started"] is False and "error" not in report["run"]
