"""Binary checks of one file against the interpreter it will be loaded by: the ELF class and
machine, a Mach-O file in a Linux export, an executable stack. One place for plan, verify and
check (python-build-standalone's validate-distribution and auditwheel's find_lib check the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from uv_portable.binaries.elf import ElfInfo
from uv_portable.findings import finding
from uv_portable.glibc_version import GlibcVersion
from uv_portable.model import Finding
from uv_portable.prove.glibc import needed_glibc

# What the loader does with a library whose PT_GNU_STACK asks for an executable stack.
EXEC_STACK_CONSEQUENCE = (
    "SELinux (the execstack/execmem policy of Fedora, RHEL and Android) refuses to load it "
    "(`cannot enable executable stack`), and glibc 2.41 and newer refuse to dlopen it"
)


@dataclass(frozen=True)
class Arch:
    """An ELF class and machine, e.g. 64-bit EM_X86_64."""

    elf_class: int
    machine: str

    @classmethod
    def of(cls, info: ElfInfo) -> Arch:
        """The architecture an ELF file is built for."""
        return cls(info.elf_class, info.machine)

    def __str__(self) -> str:
        return f"{self.elf_class}-bit {self.machine.removeprefix('EM_').lower()}"


def _owned(owner: str) -> str:
    return f"installed by {owner}" if owner else "no installed distribution owns it"


def _reinstall(owner: str) -> str:
    what = owner if owner else "the package that ships it"
    return f"reinstall {what} with wheels for this platform, or leave the file out with --exclude"


def arch_finding(rel: str, info: ElfInfo, want: Arch, owner: str) -> Finding | None:
    """An error when an ELF file is built for another class or machine than the interpreter."""
    have = Arch.of(info)
    if have == want:
        return None
    return finding(
        "wrong-arch",
        rel,
        f"is a {have} ELF file, but the interpreter is {want} ({_owned(owner)}): it cannot load",
        hint=_reinstall(owner),
        subject=owner,
    )


def macho_in_linux_finding(rel: str, owner: str) -> Finding:
    """The error for a Mach-O (macOS) file in a Linux environment."""
    return finding(
        "macho-in-linux",
        rel,
        f"is a macOS (Mach-O) binary in a Linux environment ({_owned(owner)})",
        hint=_reinstall(owner),
        subject=owner,
    )


def exec_stack_finding(rel: str, owner: str) -> Finding:
    """The warning for an ELF file that asks for an executable stack (PT_GNU_STACK with X)."""
    return finding(
        "exec-stack",
        rel,
        f"asks for an executable stack (PT_GNU_STACK RWE, {_owned(owner)}): "
        + EXEC_STACK_CONSEQUENCE,
        subject=owner,
    )


def compatible(info: ElfInfo, want: Arch, max_glibc: GlibcVersion | None = None) -> bool:
    """Whether a library can serve a file of architecture ``want`` (and, when given, needs
    no newer glibc than ``max_glibc``): auditwheel's find_lib takes only such a file."""
    if Arch.of(info) != want:
        return False
    if max_glibc is None:
        return True
    needed = needed_glibc(info)
    return needed is None or needed <= max_glibc
