"""Bad shared libraries in a venv: refused with the file's name, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import cli, compile_so
from tests.integration.test_bad_input import assert_clean_failure, assert_nothing_written

REFUSED = 5


def site(venv: Path) -> Path:
    return venv / "lib" / "python3.12" / "site-packages"


def test_optional_library_absent_from_the_build_host_is_a_warning(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    """As numba's tbbpool needs libtbb: the source cannot load the file either, so the one
    policy makes it a warning at every stage, and --allow-missing is honoured by all of them."""
    gone = compile_so(
        tmp_path / "build" / "libgone.so.3", "int g(void){return 3;}", soname="libgone.so.3"
    )
    compile_so(
        site(small_venv_copy) / "needy.so", "int g(void); int n(void){return g();}", needs=[gone]
    )
    gone.unlink()  # linked on the build machine, gone now
    out = tmp_path / "out"
    proc = cli("export", str(small_venv_copy), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    warnings = [f for f in summary["findings"] if f["code"] == "optional-library-absent"]
    assert [w["severity"] for w in warnings] == ["warning"]
    assert warnings[0]["path"].endswith("site-packages/needy.so")
    assert "needs libgone.so.3, which the build host lacks too" in warnings[0]["message"]
    manifest = json.loads((out / "share/uv-portable/manifest.json").read_text())
    assert [m["soname"] for m in manifest["missing_libraries"]] == ["libgone.so.3"]
    checked = cli("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout
    codes = {f["code"] for f in json.loads(checked.stdout)["findings"]}
    assert "optional-library-absent" in codes and "unresolved-library" not in codes

    allowed = tmp_path / "allowed"
    proc = cli("export", str(small_venv_copy), str(allowed), "--allow-missing", "libgone.so.3")
    assert proc.returncode == 0, proc.stderr  # the planner and the verifier agree
    assert "left to the target host (--allow-missing)" in proc.stderr


def test_allow_missing_leaves_a_host_library_out(small_venv_copy: Path, tmp_path: Path) -> None:
    """--allow-missing means the target provides it: never bundled, even when found here."""
    proc = cli(
        "export", str(small_venv_copy), str(tmp_path / "out"), "--allow-missing", "libz.so.1"
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "out" / "lib" / "libz.so.1").exists()
    assert "libz.so.1, left to the target host" in proc.stderr


def test_library_outside_the_venv_is_bundled(small_venv_copy: Path, tmp_path: Path) -> None:
    lib = compile_so(
        tmp_path / "opt" / "vendor" / "libvendor.so.2",
        "int v(void){return 2;}",
        soname="libvendor.so.2",
    )
    compile_so(
        site(small_venv_copy) / "uses_vendor.so",
        "int v(void); int u(void){return v();}",
        needs=[lib],
        runpath=str(lib.parent),
    )
    out = tmp_path / "out"
    proc = cli("export", str(small_venv_copy), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert {"soname": "libvendor.so.2", "from": str(lib)} in summary["bundled"]
    assert (out / "lib" / "libvendor.so.2").is_file()


def test_soname_clash(small_venv_copy: Path, tmp_path: Path) -> None:
    a = compile_so(
        tmp_path / "a" / "libclash.so.1", "int c(void){return 1;}", soname="libclash.so.1"
    )
    b = compile_so(
        tmp_path / "b" / "libclash.so.1",
        "int c(void){return 2;} int extra;",
        soname="libclash.so.1",
    )
    compile_so(
        site(small_venv_copy) / "one.so",
        "int c(void); int o(void){return c();}",
        needs=[a],
        runpath=str(a.parent),
    )
    compile_so(
        site(small_venv_copy) / "two.so",
        "int c(void); int t(void){return c();}",
        needs=[b],
        runpath=str(b.parent),
    )
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, "libclash.so.1")
    assert "different libclash.so.1" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_non_elf_named_like_a_library(small_venv_copy: Path, tmp_path: Path) -> None:
    (site(small_venv_copy) / "notreally.so").write_text("this is text\n")
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, "notreally.so: is named like a shared library but is not")
    assert_nothing_written(tmp_path, keep=("venv",))


def test_broken_elf(small_venv_copy: Path, tmp_path: Path) -> None:
    (site(small_venv_copy) / "broken.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\xff" * 200)
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, "broken.so: not a readable ELF file")
    assert_nothing_written(tmp_path, keep=("venv",))
