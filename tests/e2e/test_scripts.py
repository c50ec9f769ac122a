"""Scripts that are not Python keep their shebang (issue 19): a venv on Debian's own
/usr/bin/python3.11 (prefix /usr, where env, bash and perl sit beside the build's Python),
with bash, perl and sh scripts in bin/, exported, moved, and run in a bare Debian root with no
Python; and pyspark's spark-submit, run from the moved export with every host Python hidden.

Before the fix, each non-Python script got Python's relocatable header and failed with
"bin/python: can't open file '.../bash'" while the export said "verified"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli, debian_root, make_venv, run_sandboxed
from tests.pins import CONSTRAINTS, pins_for_python
from uv_portable.plan.scripts import trampoline
from uv_portable.prove.sandbox import hidden_python_paths

pytestmark = pytest.mark.e2e
DEBIAN_PYTHON = "/usr/bin/python3.11"
MOUNT = "/opt/moved/env"
MANIFEST = "share/uv-portable/manifest.json"
SCRIPTS = {
    # name: (content, what running it with the argument "there" prints)
    "hello-env-bash": (
        '#!/usr/bin/env bash\necho "bash ${BASH_VERSINFO[0]} says $1"\n',
        "bash 5 says there",
    ),
    "hello-bash": ('#!/bin/bash\necho "plain bash says $1"\n', "plain bash says there"),
    "hello-perl": ('#!/usr/bin/perl\nprint "perl says $ARGV[0]\\n";\n', "perl says there"),
    "hello-env-s-perl": (
        '#!/usr/bin/env -S perl -w\nprint "perl -w says $ARGV[0]\\n";\n',
        "perl -w says there",
    ),
    "hello-sh": ('#!/bin/sh\necho "sh says $1"\n', "sh says there"),
    # A Python script naming the base's own interpreter: this one must be relocated.
    "hello-python": (
        f'#!{DEBIAN_PYTHON}\nimport sys\nprint("python", sys.prefix, "says", sys.argv[1])\n',
        f"python {MOUNT} says there",
    ),
}


def _debian_venv(path: Path, packages: list[str]) -> Path:
    """A venv on Debian's python3.11 made as `uv sync` makes one (absolute shebangs)."""
    if not Path(DEBIAN_PYTHON).exists():
        pytest.fail(f"{DEBIAN_PYTHON} is missing; .ci/run runs on Debian 12, which has it")
    return make_venv(path, "3.11", packages, relocatable=False, python=DEBIAN_PYTHON)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(the source venv with the scripts, its export moved elsewhere, export's stderr)."""
    work = tmp_path_factory.mktemp("scripts")
    venv = _debian_venv(work / "venv", ["cowsay==6.1"])
    for name, (text, _) in SCRIPTS.items():
        path = venv / "bin" / name
        path.write_text(text)
        path.chmod(0o755)
    out = work / "out"
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    moved = work / "moved" / "env"
    moved.parent.mkdir()
    os.rename(out, moved)
    return venv, moved, proc.stderr


def test_non_python_scripts_keep_their_shebang(exported: tuple[Path, Path, str]) -> None:
    venv, moved, _ = exported
    for name in SCRIPTS:
        source_line = (venv / "bin" / name).read_bytes().split(b"\n", 1)[0]
        exported_line = (moved / "bin" / name).read_bytes().split(b"\n", 1)[0]
        if name == "hello-python":
            assert exported_line == b"#!/bin/sh", name
        else:
            assert exported_line == source_line, name


def test_every_script_runs_moved_in_a_bare_debian_root(
    exported: tuple[Path, Path, str], bwrap: str
) -> None:
    _, moved, _ = exported
    bookworm = debian_root("bookworm")
    assert not list((bookworm / "usr" / "bin").glob("python*"))  # no Python in the root
    for name, (_, expected) in SCRIPTS.items():
        proc = run_sandboxed(
            moved, [f"{MOUNT}/bin/{name}", "there"], mount_at=MOUNT, rootfs=bookworm
        )
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        assert proc.stdout.strip() == expected, name
    # The console script (an entry point) runs the export's Python there too.
    proc = run_sandboxed(
        moved, [f"{MOUNT}/bin/cowsay", "-t", "moo"], mount_at=MOUNT, rootfs=bookworm
    )
    assert proc.returncode == 0 and "moo" in proc.stdout, proc.stderr


def test_negative_control_the_source_venv_fails_in_the_same_root(
    exported: tuple[Path, Path, str], bwrap: str
) -> None:
    venv, _, _ = exported
    proc = run_sandboxed(
        venv, [f"{MOUNT}/bin/hello-python", "there"], mount_at=MOUNT, rootfs=debian_root("bookworm")
    )
    assert proc.returncode != 0  # its shebang names /usr/bin/python3.11, absent there


def test_entry_points_are_verified_against_the_source(exported: tuple[Path, Path, str]) -> None:
    _, moved, stderr = exported
    imports = json.loads((moved / MANIFEST).read_text())["imports"]
    assert "cowsay.__main__:cli" in imports["baseline"]  # imported in source and export
    assert "verified with bwrap" in stderr


def test_check_catches_a_non_python_script_given_pythons_header(
    exported: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """What earlier exports shipped: `check` no longer calls it self-contained."""
    _, moved, _ = exported
    copy = tmp_path / "env"
    shutil.copytree(moved, copy, symlinks=True)
    body = SCRIPTS["hello-env-bash"][0].split("\n", 1)[1]
    (copy / "bin" / "hello-env-bash").write_bytes(trampoline(args="bash") + body.encode())
    proc = cli("check", str(copy), "--json")
    assert proc.returncode == 1, proc.stdout
    codes = {(f["code"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("script-not-python", "bin/hello-env-bash") in codes


@pytest.mark.spark
def test_spark_submit_runs_from_the_moved_export(tmp_path: Path) -> None:
    """pyspark's bin/ holds 12 bash scripts; spark-submit runs `python3` from PATH (the
    export's) to find SPARK_HOME, then java. Every host Python is hidden."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not installed; .ci/run installs a JRE (default-jre-headless)")
    # Debian's python3.11: the constraints give it the pyspark of the matrix for 3.11+.
    spark = pins_for_python(CONSTRAINTS.read_text(), "3.11")["pyspark"]
    venv = _debian_venv(tmp_path / "venv", [f"pyspark=={spark}"])
    out = tmp_path / "out"
    proc = cli("export", str(venv), str(out))
    assert proc.returncode == 0, proc.stderr
    moved = tmp_path / "moved" / "env"
    moved.parent.mkdir()
    os.rename(out, moved)
    assert (moved / "bin" / "spark-submit").read_bytes().startswith(b"#!/usr/bin/env bash\n")
    env = {
        "PATH": f"{moved}/bin:/usr/bin:/bin",  # as `source bin/activate` would set it
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "JAVA_HOME": os.environ.get("JAVA_HOME", str(Path(java).resolve().parent.parent)),
    }
    proc = _run_hidden([str(moved / "bin" / "spark-submit"), "--version"], venv, env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0] == f"{moved}/bin/python3"  # the export's, not the host's
    assert f"version {spark}" in proc.stderr  # spark-submit prints its banner on stderr
    # Negative control: the same command from the source venv cannot find a Python.
    control = _run_hidden(
        [str(venv / "bin" / "spark-submit"), "--version"],
        venv,
        {**env, "PATH": f"{venv}/bin:/usr/bin:/bin"},
        tmp_path,
    )
    assert control.returncode != 0


def _run_hidden(
    argv: list[str], venv: Path, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """argv in a mount namespace where every host Python and the source venv are hidden
    (empty tmpfs, /dev/null over the binaries); prints which python3 PATH finds first."""
    folders, files = hidden_python_paths()
    mounts = [f"mount --bind /dev/null {f}" for f in files]
    mounts += [f"mount -t tmpfs none {d}" for d in [*folders, str(venv)] if os.path.isdir(d)]
    script = "set -e\n" + "\n".join(mounts) + "\n" + 'command -v python3 || true\nexec "$@"'
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
