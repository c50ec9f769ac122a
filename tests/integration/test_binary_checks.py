"""Binaries that should not be in a Linux export: another machine's ELF, a Mach-O file, an
executable stack; library lookup that takes only a compatible file; the highest symbol versions."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

from tests.helpers import as_aarch64, cli, compile_so, with_exec_stack
from tests.integration.test_bad_input import assert_clean_failure, assert_nothing_written
from uv_portable.binaries.elf import read_elf
from uv_portable.glibc_version import GlibcVersion
from uv_portable.plan import PlanOptions, make_plan
from uv_portable.prove.glibc import needed_glibc
from uv_portable.source.venv import load_source

REFUSED = 5
# The smallest Mach-O a macOS wheel could leave behind: a 64-bit arm64 dylib header.
MACHO_ARM64 = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 6, 0, 0, 0, 0)


def site(venv: Path) -> Path:
    return venv / "lib" / "python3.12" / "site-packages"


def plant(venv: Path, name: str, data: bytes) -> str:
    """Put a file into cowsay's package folder and its RECORD, as if cowsay shipped it."""
    rel = f"cowsay/{name}"
    (site(venv) / rel).write_bytes(data)
    record = next(site(venv).glob("cowsay-*.dist-info")) / "RECORD"
    record.write_text(record.read_text() + f"{rel},,\n")
    return rel


def small_so(tmp_path: Path, name: str = "libsmall.so") -> Path:
    return compile_so(tmp_path / "build" / name, "int small(void){return 7;}")


def test_an_aarch64_library_is_refused_naming_its_distribution(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    rel = plant(small_venv_copy, "_accel.so", as_aarch64(small_so(tmp_path)))
    assert read_elf(site(small_venv_copy) / rel).machine == "EM_AARCH64"
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, f"{rel}: is a 64-bit aarch64 ELF file")
    assert "interpreter is 64-bit x86_64 (installed by cowsay)" in proc.stderr
    assert "reinstall cowsay with wheels for this platform" in proc.stderr
    assert_nothing_written(tmp_path, keep=("venv", "build"))


def test_a_macho_file_is_refused_naming_its_distribution(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    rel = plant(small_venv_copy, "_speedups.cpython-312-darwin.so", MACHO_ARM64)
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, f"{rel}: is a macOS (Mach-O) binary in a Linux")
    assert "installed by cowsay" in proc.stderr
    assert_nothing_written(tmp_path, keep=("venv",))


def test_check_finds_foreign_binaries_in_an_export(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("export", str(small_venv), str(out)).returncode == 0
    (site(out) / "cowsay" / "_accel.so").write_bytes(as_aarch64(small_so(tmp_path)))
    (site(out) / "cowsay" / "_fast.cpython-312-darwin.so").write_bytes(MACHO_ARM64)
    record = next(site(out).glob("cowsay-*.dist-info")) / "RECORD"
    record.write_text(record.read_text() + "cowsay/_accel.so,,\n")
    checked = cli("check", str(out), "--json")
    assert checked.returncode == 1, checked.stdout
    found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
    assert found["wrong-arch"]["path"].endswith("cowsay/_accel.so")
    assert "installed by cowsay" in found["wrong-arch"]["message"]
    assert found["macho-in-linux"]["path"].endswith("cowsay/_fast.cpython-312-darwin.so")
    assert "no installed distribution owns it" in found["macho-in-linux"]["message"]


def test_an_executable_stack_is_reported_by_export_and_check(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    rel = plant(small_venv_copy, "_stack.so", with_exec_stack(small_so(tmp_path)))
    assert read_elf(site(small_venv_copy) / rel).exec_stack
    out = tmp_path / "out"
    proc = cli("export", str(small_venv_copy), str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: lib/python3.12/site-packages/{rel}: asks for an executable stack" in (
        proc.stderr
    )
    assert "SELinux" in proc.stderr and "installed by cowsay" in proc.stderr
    checked = cli("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout  # a warning: it loads where SELinux allows
    stacks = [f for f in json.loads(checked.stdout)["findings"] if f["code"] == "exec-stack"]
    assert [f["path"] for f in stacks] == [f"lib/python3.12/site-packages/{rel}"]
    assert stacks[0]["severity"] == "warning"
    # The negative control: the same library without the flag is not reported.
    clean = tmp_path / "clean"
    shutil.copytree(out, clean, symlinks=True)
    target = site(clean) / rel
    target.write_bytes(small_so(tmp_path, "libclean.so").read_bytes())
    codes = {f["code"] for f in json.loads(cli("check", str(clean), "--json").stdout)["findings"]}
    assert "exec-stack" not in codes and "file-changed" in codes


def test_library_lookup_skips_another_machines_file(small_venv_copy: Path, tmp_path: Path) -> None:
    """As the loader does: a wrong-machine libdep.so.1 earlier on the RUNPATH is passed over."""
    source = "int dep(void){return 1;}"
    wrong = compile_so(tmp_path / "a" / "libdep.so.1", source, soname="libdep.so.1")
    wrong.write_bytes(as_aarch64(wrong))
    right = compile_so(tmp_path / "b" / "libdep.so.1", source, soname="libdep.so.1")
    compile_so(
        site(small_venv_copy) / "needs_dep.so",
        "int dep(void); int use(void){return dep();}",
        needs=[right],
        runpath=f"{wrong.parent}:{right.parent}",
    )
    out = tmp_path / "out"
    proc = cli("export", str(small_venv_copy), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    bundled = {b["soname"]: b["from"] for b in json.loads(proc.stdout)["bundled"]}
    assert bundled["libdep.so.1"] == str(right)
    assert (out / "lib" / "libdep.so.1").read_bytes() == right.read_bytes()


def test_library_lookup_prefers_one_within_the_target_glibc(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    """With --target-glibc, a library needing a newer glibc is passed over for an older one."""
    new = compile_so(
        tmp_path / "new" / "libdep.so.1",
        "#include <pthread.h>\nvoid *p = (void *)pthread_create; int dep(void){return 1;}",
        soname="libdep.so.1",
    )
    old = compile_so(
        tmp_path / "old" / "libdep.so.1", "int dep(void){return 2;}", soname="libdep.so.1"
    )
    assert (needed_glibc(read_elf(new)) or GlibcVersion(0, 0)) >= GlibcVersion(2, 34)
    assert (needed_glibc(read_elf(old)) or GlibcVersion(0, 0)) <= GlibcVersion(2, 33)
    compile_so(
        site(small_venv_copy) / "needs_dep.so",
        "int dep(void); int use(void){return dep();}",
        needs=[old],
        runpath=f"{new.parent}:{old.parent}",
    )
    source = load_source(small_venv_copy)
    # The plan is a value: what it bundles is decided whatever else it refuses (the
    # interpreter itself may need a newer glibc than 2.33).
    plan = make_plan(source, PlanOptions(target_glibc=GlibcVersion(2, 33)))
    assert dict(plan.bundled)["libdep.so.1"] == str(old)
    assert not [f for f in plan.errors if "libdep" in f.path]
    plan = make_plan(source, PlanOptions())
    assert dict(plan.bundled)["libdep.so.1"] == str(new)  # without a target: the loader's first


def test_summary_and_manifest_name_the_highest_symbol_versions(
    small_venv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = cli("export", str(small_venv), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    glibc = summary["symbol_versions"]["GLIBC"]
    assert glibc["version"] == summary["glibc_floor"]
    assert summary["glibc_per_file"][glibc["needed_by"]] == summary["glibc_floor"]
    manifest = json.loads((out / "share/uv-portable/manifest.json").read_text())
    assert manifest["platform"]["symbol_versions"] == summary["symbol_versions"]
    checked = cli("check", str(out), "--json")
    assert json.loads(checked.stdout)["symbol_versions"] == summary["symbol_versions"]
    text = cli("export", str(small_venv), str(tmp_path / "text"))
    assert f"GLIBC_{glibc['version']} by {glibc['needed_by']}" in text.stderr
