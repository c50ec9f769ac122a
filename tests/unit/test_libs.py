"""The resolver on fixture ELF trees compiled here: RPATH inheritance vs RUNPATH, $ORIGIN,
missing libraries, the policy, glibc targets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import compile_so
from uv_portable.binaries.elf import read_elf
from uv_portable.binaries.libs import resolve_on_host, search_dirs, tree_closure
from uv_portable.binaries.policy import (
    host_group,
    host_requirement,
    is_system_library,
    library_data,
)
from uv_portable.errors import UsageError
from uv_portable.glibc_version import GlibcVersion
from uv_portable.prove.glibc import needed_glibc, parse_target_glibc, too_new


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("elftree")
    base = compile_so(
        root / "libs" / "libbase.so.1", "int base(void){return 1;}", soname="libbase.so.1"
    )
    mid = compile_so(
        root / "libs" / "libmid.so.1",
        "int base(void); int mid(void){return base();}",
        soname="libmid.so.1",
        needs=[base],
    )
    # pkg/ext.so: DT_RPATH $ORIGIN/../libs, which libmid (no search path) inherits for libbase
    compile_so(
        root / "pkg" / "ext.so",
        "int mid(void); int ext(void){return mid();}",
        needs=[mid],
        rpath="$ORIGIN/../libs",
    )
    base2 = compile_so(
        root / "libs2" / "libbase2.so.1", "int base2(void){return 2;}", soname="libbase2.so.1"
    )
    mid2 = compile_so(
        root / "libs2" / "libmid2.so.1",
        "int base2(void); int mid2(void){return base2();}",
        soname="libmid2.so.1",
        needs=[base2],
    )
    # pkg/ext2.so: DT_RUNPATH, which is NOT inherited: libmid2 cannot find libbase2
    compile_so(
        root / "pkg" / "ext2.so",
        "int mid2(void); int ext2(void){return mid2();}",
        needs=[mid2],
        runpath="$ORIGIN/../libs2",
    )
    gone = compile_so(
        root / "elsewhere" / "libgone.so.3", "int gone(void){return 3;}", soname="libgone.so.3"
    )
    compile_so(
        root / "pkg" / "ext3.so",
        "int gone(void); int ext3(void){return gone();}",
        needs=[gone],
        runpath="$ORIGIN",
    )
    return root


def objects(root: Path) -> dict[str, object]:
    return {str(p): read_elf(p) for p in sorted(root.rglob("*.so*")) if "elsewhere" not in str(p)}


def test_rpath_is_inherited_and_runpath_is_not(tree: Path) -> None:
    closure = tree_closure(objects(tree), lambda p: Path(p).is_file(), str(tree))  # type: ignore[arg-type]
    assert {"libbase.so.1", "libmid.so.1", "libmid2.so.1"} <= closure.found
    assert closure.unresolved["libbase2.so.1"] == (str(tree / "libs2" / "libmid2.so.1"),)
    assert closure.unresolved["libgone.so.3"] == (str(tree / "pkg" / "ext3.so"),)
    assert "libc.so.6" not in closure.unresolved  # the policy: every host has it


def test_search_dirs_expand_origin(tree: Path) -> None:
    info = read_elf(tree / "pkg" / "ext.so")
    assert info.rpath == ("$ORIGIN/../libs",) and info.runpath is None
    assert search_dirs(info, str(tree / "pkg")) == [str(tree / "libs")]
    assert search_dirs(info, str(tree / "pkg"), ["/inherited"]) == [
        str(tree / "libs"),
        "/inherited",
    ]
    info2 = read_elf(tree / "pkg" / "ext2.so")
    assert info2.runpath == ("$ORIGIN/../libs2",)
    assert search_dirs(info2, str(tree / "pkg"), ["/inherited"]) == [str(tree / "libs2")]


def test_resolve_on_host(tree: Path) -> None:
    assert resolve_on_host("libbase.so.1", [str(tree / "libs")]) == str(
        tree / "libs" / "libbase.so.1"
    )
    assert resolve_on_host("libnothing-at-all.so.9", [str(tree)]) is None
    assert resolve_on_host("libc.so.6", []) is not None  # default folders


def test_policy_groups() -> None:
    assert is_system_library("libc.so.6") and is_system_library("libstdc++.so.6")
    assert not is_system_library("libssl.so.3") and not is_system_library("libz.so.1")
    assert host_group("libcuda.so.1") == "gpu-driver"
    assert host_group("libX11.so.6") == "graphics"
    assert host_requirement("libX11.so.6", "tkinter") == "tkinter needs libX11.so.6 from the host"
    cuda = host_requirement("libcuda.so.1", "torch")
    assert cuda is not None and cuda.startswith("CUDA needs the NVIDIA driver on the target")
    assert host_requirement("libc.so.6", "x") is None  # glibc goes without saying


def test_library_data_policy() -> None:
    tcl = library_data("libtcl8.6.so")
    assert tcl is not None and (tcl.folder, tcl.marker) == ("tcl8.6", "init.tcl")
    tinfo = library_data("libtinfo.so.6")
    assert tinfo is not None and "terminfo" in tinfo.host_data and not tinfo.folder
    assert library_data("libssl.so.3") is None


def test_glibc_floor_of_a_real_binary() -> None:
    floor = needed_glibc(read_elf(Path(sys.executable).resolve()))
    assert floor is not None and floor >= (2, 17), floor  # any CPython of today needs this
    findings = too_new({"bin/python": floor, "lib/old.so": GlibcVersion(2, 2)}, GlibcVersion(2, 3))
    assert [(f.path, f.code, f.subject) for f in findings] == [
        ("bin/python", "glibc-too-new", str(floor))
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.28", (2, 28)),
        ("manylinux_2_28", (2, 28)),
        ("manylinux_2_17_x86_64", (2, 17)),
        ("manylinux2014", (2, 17)),
        ("manylinux2010", (2, 12)),
        ("manylinux1", (2, 5)),
    ],
)
def test_parse_glibc_target(value: str, expected: tuple[int, int]) -> None:
    assert parse_target_glibc(value) == expected
    assert str(parse_target_glibc(value)) == f"{expected[0]}.{expected[1]}"


def test_parse_glibc_target_rejects_nonsense() -> None:
    with pytest.raises(UsageError, match="not a glibc version"):
        parse_target_glibc("latest")
