"""The binary checks against the interpreter (binaries/compat.py), the executable-stack flag
in both ELF readers, and the highest GLIBC_/GLIBCXX_ symbol versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import as_aarch64, compile_so, with_exec_stack
from uv_portable.binaries.compat import (
    Arch,
    arch_finding,
    compatible,
    exec_stack_finding,
    macho_in_linux_finding,
)
from uv_portable.binaries.elf import ElfInfo, read_elf, read_elf_pyelftools
from uv_portable.glibc_version import GlibcVersion
from uv_portable.prove.glibc import highest_symbol_versions

X86_64 = Arch(64, "EM_X86_64")
LIB = ElfInfo(64, "EM_X86_64", True, None, (), None, None, (("libc.so.6", "GLIBC_2.34"),))


@pytest.mark.parametrize(
    ("info", "max_glibc", "ok"),
    [
        (LIB, None, True),
        (LIB, GlibcVersion(2, 34), True),
        (LIB, GlibcVersion(2, 28), False),  # needs a newer glibc than the target's
        (replace(LIB, version_needs=()), GlibcVersion(2, 5), True),
        (replace(LIB, machine="EM_AARCH64"), None, False),
        (replace(LIB, elf_class=32, machine="EM_386"), None, False),
        (replace(LIB, elf_class=32), None, False),  # x32-like: the class differs
    ],
)
def test_compatible(info: ElfInfo, max_glibc: GlibcVersion | None, ok: bool) -> None:
    assert compatible(info, X86_64, max_glibc) is ok


@pytest.mark.parametrize(
    ("machine", "owner", "message"),
    [
        ("EM_X86_64", "numpy", None),
        ("EM_AARCH64", "numpy", "is a 64-bit aarch64 ELF file, but the interpreter is 64-bit "
         "x86_64 (installed by numpy): it cannot load"),
        ("EM_AARCH64", "", "is a 64-bit aarch64 ELF file, but the interpreter is 64-bit "
         "x86_64 (no installed distribution owns it): it cannot load"),
    ],
)  # fmt: skip
def test_arch_finding(machine: str, owner: str, message: str | None) -> None:
    found = arch_finding("lib/x.so", replace(LIB, machine=machine), X86_64, owner)
    assert (found.message if found else None) == message
    if found is not None:
        assert (found.severity, found.code, found.subject) == ("error", "wrong-arch", owner)
        assert f"reinstall {owner or 'the package that ships it'} with wheels" in found.hint


def test_macho_and_exec_stack_findings() -> None:
    macho = macho_in_linux_finding("a/b.so", "pyyaml")
    assert (macho.severity, macho.code) == ("error", "macho-in-linux")
    assert "installed by pyyaml" in macho.message
    stack = exec_stack_finding("a/c.so", "")
    assert (stack.severity, stack.code) == ("warning", "exec-stack")
    assert "SELinux" in stack.message and "glibc 2.41" in stack.message


def test_both_readers_see_an_executable_stack(tmp_path: Path) -> None:
    clean = compile_so(tmp_path / "libclean.so", "int f(void){return 1;}")
    stack = tmp_path / "libstack.so"
    stack.write_bytes(with_exec_stack(clean))
    arm = tmp_path / "libarm.so"
    arm.write_bytes(as_aarch64(clean))
    for path, exec_stack, machine in (
        (clean, False, "EM_X86_64"),
        (stack, True, "EM_X86_64"),
        (arm, False, "EM_AARCH64"),
    ):
        assert read_elf(path) == read_elf_pyelftools(path)
        assert (read_elf(path).exec_stack, read_elf(path).machine) == (exec_stack, machine)


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        ({}, ()),
        (
            {
                "b.so": [("libc.so.6", "GLIBC_2.17"), ("libstdc++.so.6", "GLIBCXX_3.4.29")],
                "a.so": [("libc.so.6", "GLIBC_2.34"), ("libstdc++.so.6", "GLIBCXX_3.4.9")],
                "c.so": [("libc.so.6", "GLIBC_2.34"), ("libstdc++.so.6", "CXXABI_1.3.13")],
            },
            (("GLIBC", "2.34", "a.so"), ("GLIBCXX", "3.4.29", "b.so")),  # 3.4.29 > 3.4.9
        ),
        ({"x": [("libc.so.6", "GLIBC_PRIVATE"), ("libc.so.6", "GLIBC_2.2.5")]}, (
            ("GLIBC", "2.2.5", "x"),
        )),
    ],
)  # fmt: skip
def test_highest_symbol_versions(
    needs: dict[str, list[tuple[str, str]]], expected: tuple[tuple[str, str, str], ...]
) -> None:
    assert highest_symbol_versions(needs) == expected
