"""Bad shared libraries in a venv: refused with the file's name, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import cli, compile_so
from tests.integration.test_bad_input import assert_clean_failure, assert_nothing_written

REFUSED = 5


def site(venv: Path) -> Path:
    return venv / "lib" / "python3.12" / "site-packages"


def test_library_that_cannot_be_found(small_venv_copy: Path, tmp_path: Path) -> None:
    gone = compile_so(
        tmp_path / "build" / "libgone.so.3", "int g(void){return 3;}", soname="libgone.so.3"
    )
    compile_so(
        site(small_venv_copy) / "needy.so", "int g(void); int n(void){return g();}", needs=[gone]
    )
    gone.unlink()  # linked on the build machine, gone now
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, "needs libgone.so.3, which is not found")
    assert "needy.so" in proc.stderr and "--allow-missing libgone.so.3" in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = cli(
        "export",
        str(small_venv_copy),
        str(tmp_path / "out"),
        "--allow-missing",
        "libgone.so.3",
        "--no-verify",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "missing-library"]
    assert warnings and warnings[0]["severity"] == "warning"


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
