"""edit_search_path: what the loader, readelf and both our readers see after each kind of edit,
the files it refuses untouched, its memory on a 200 MB file, a real numpy wheel, and its place
in set_search_path."""

from __future__ import annotations

import platform
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.helpers import REPO, pip_install, run, uv_env
from uv_portable.binaries import patchelf as patchelf_module
from uv_portable.binaries.elf import read_elf, read_elf_pyelftools
from uv_portable.binaries.elf_edit import edit_search_path

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"),
    reason="builds and loads ELF64 little-endian libraries",
)

DEP = "int dep_fn(void) { return 42; }\n"
TOP = "int dep_fn(void);\nint top_fn(void) { return dep_fn() + 1; }\n"
NEW, OLD = "-Wl,--enable-new-dtags", "-Wl,--disable-new-dtags"  # RUNPATH, RPATH
SUB = ("$ORIGIN/sub",)  # the only place libdep.so is
LONG = ("$ORIGIN/nonexistent-long-entry-to-force-a-new-segment", "$ORIGIN/sub")
PLACEHOLDER = "-Wl,-rpath,$ORIGIN/placeholder-longer-than-sub"
SHORT = "-Wl,-rpath,$ORIGIN/x"
DT_RPATH = 15
PT_NOTE, PT_NULL = 4, 0


def _lld_flags() -> list[str] | None:
    found = shutil.which("ld.lld") or next(
        (str(p) for p in sorted(Path("/usr/lib").glob("llvm-*/bin/ld.lld"))), None
    )
    return None if found is None else [f"-B{Path(found).parent}", "-fuse-ld=lld"]


LINKERS = [
    pytest.param([], id="bfd"),
    pytest.param(
        _lld_flags() or [],
        id="lld",  # no spare DT_NULL in .dynamic: a new entry moves it
        marks=pytest.mark.skipif(_lld_flags() is None, reason="ld.lld is not installed"),
    ),
]


def build(folder: Path, name: str, source: str, *flags: str) -> Path:
    """Compile source into folder/lib<name>.so."""
    c_file = folder / f"{name}.c"
    c_file.write_text(source)
    out = folder / f"lib{name}.so"
    run(["gcc", "-shared", "-fPIC", "-o", str(out), str(c_file), *flags])
    return out


def top(tmp_path: Path, *flags: str, source: str = TOP) -> Path:
    """tmp_path/libtop.so, which needs libdep.so, found only in tmp_path/sub."""
    objects = tmp_path / "build"
    if not objects.exists():
        objects.mkdir()
        build(objects, "dep", DEP)
        (tmp_path / "sub").mkdir()
        shutil.copy2(objects / "libdep.so", tmp_path / "sub")
    return build(tmp_path, "top", source, f"-L{objects}", "-ldep", *flags)


def loads(lib: Path, function: str = "top_fn", expected: int = 43) -> bool:
    """A fresh process dlopens lib (resolving its dependency) and calls function."""
    code = "import ctypes, sys; print(getattr(ctypes.CDLL(sys.argv[1]), sys.argv[2])())"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(lib), function], capture_output=True, text=True
    )
    return proc.returncode == 0 and proc.stdout.strip() == str(expected)


def readelf_tags(lib: Path) -> dict[str, str]:
    """{"RUNPATH": value, "RPATH": value} as binutils' readelf prints them."""
    out = run(["readelf", "-dW", str(lib)]).stdout
    return dict(re.findall(r"\((RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", out))


def assert_sound(lib: Path, expected: dict[str, str]) -> None:
    """readelf sees the expected tags and complains of nothing; both readers agree; the PT_LOADs
    are sorted and aligned; PT_DYNAMIC is in a writable PT_LOAD."""
    assert readelf_tags(lib) == expected
    for args in (["-a", "-W"], ["-lSdW"]):
        proc = run(["readelf", *args, str(lib)])
        # "readelf: Warning: ..." and "readelf: Error: ..." go to stderr (symbol names such as
        # PyExc_ImportWarning are in stdout)
        assert proc.stderr == "" and "readelf:" not in proc.stdout, proc.stderr
    split = {key: tuple(value.split(":")) for key, value in expected.items()}
    for info in (read_elf(lib), read_elf_pyelftools(lib)):
        assert (info.runpath, info.rpath) == (split.get("RUNPATH"), split.get("RPATH"))
    with lib.open("rb") as fh:
        segments = [segment.header for segment in ELFFile(fh).iter_segments()]
    load = [s for s in segments if s.p_type == "PT_LOAD"]
    assert [s.p_vaddr for s in load] == sorted(s.p_vaddr for s in load)
    assert all(s.p_offset % s.p_align == s.p_vaddr % s.p_align for s in load)
    (dyn,) = (s for s in segments if s.p_type == "PT_DYNAMIC")
    assert any(
        s.p_vaddr <= dyn.p_vaddr and dyn.p_vaddr + dyn.p_filesz <= s.p_vaddr + s.p_filesz
        for s in load
        if s.p_flags & 2  # PF_W
    )


def dynamic_offset(lib: Path) -> int:
    with lib.open("rb") as fh:
        return int(
            next(s for s in ELFFile(fh).iter_segments() if s["p_type"] == "PT_DYNAMIC")["p_offset"]
        )


@pytest.mark.parametrize("linker", LINKERS)
@pytest.mark.parametrize(
    ("flags", "entries", "as_rpath", "expected", "grows"),
    [
        pytest.param([PLACEHOLDER, NEW], SUB, False, "RUNPATH", False, id="in-place"),
        pytest.param([PLACEHOLDER, OLD], SUB, True, "RPATH", False, id="in-place-rpath"),
        pytest.param([PLACEHOLDER, OLD], SUB, False, "RUNPATH", False, id="in-place-to-runpath"),
        pytest.param([PLACEHOLDER, NEW], SUB, True, "RPATH", False, id="in-place-to-rpath"),
        pytest.param([SHORT, NEW], LONG, False, "RUNPATH", True, id="grow-runpath"),
        pytest.param([SHORT, OLD], LONG, True, "RPATH", True, id="grow-rpath"),
        pytest.param([SHORT, OLD], LONG, False, "RUNPATH", True, id="grow-rpath-to-runpath"),
        pytest.param([], SUB, False, "RUNPATH", True, id="no-tag-runpath"),
        pytest.param([], SUB, True, "RPATH", True, id="no-tag-rpath"),
    ],
)
def test_set(
    tmp_path: Path,
    linker: list[str],
    flags: list[str],
    entries: tuple[str, ...],
    as_rpath: bool,
    expected: str,
    grows: bool,
) -> None:
    lib = top(tmp_path, *flags, *linker)
    size, dynamic = lib.stat().st_size, dynamic_offset(lib)
    assert not loads(lib)  # libdep.so is only in sub/, which the file does not search yet
    assert edit_search_path(lib, entries, as_rpath=as_rpath)
    assert_sound(lib, {expected: ":".join(entries)})
    assert loads(lib)
    assert (lib.stat().st_size > size) == grows
    if not grows or flags:  # a new dynamic entry, and only that, may move .dynamic
        assert dynamic_offset(lib) == dynamic


def test_full_dynamic_moves(tmp_path: Path) -> None:
    """lld leaves no spare DT_NULL: the new entry goes into a copy of .dynamic, in the new
    (writable) segment, which PT_DYNAMIC then points to."""
    lld = _lld_flags()
    if lld is None:
        pytest.skip("ld.lld is not installed")
    lib = top(tmp_path, *lld)
    size = lib.stat().st_size
    assert edit_search_path(lib, SUB, as_rpath=False)
    assert dynamic_offset(lib) >= size
    assert_sound(lib, {"RUNPATH": SUB[0]})
    assert loads(lib)


@pytest.mark.parametrize("linker", LINKERS)
@pytest.mark.parametrize("flag", [NEW, OLD])
def test_remove(tmp_path: Path, linker: list[str], flag: str) -> None:
    lib = top(tmp_path, "-Wl,-rpath,$ORIGIN/sub", flag, *linker)
    size = lib.stat().st_size
    assert loads(lib)  # found through the tag that goes away
    assert edit_search_path(lib, (), as_rpath=False)
    assert_sound(lib, {})
    assert not loads(lib)
    assert lib.stat().st_size == size
    # the removal left a spare DT_NULL: a new entry now fits in .dynamic (bfd and lld alike)
    dynamic = dynamic_offset(lib)
    assert edit_search_path(lib, SUB, as_rpath=False)
    assert_sound(lib, {"RUNPATH": SUB[0]})
    assert loads(lib) and dynamic_offset(lib) == dynamic


def add_rpath_beside_runpath(lib: Path) -> None:
    """Put a DT_RPATH with the DT_RUNPATH's string into the first spare DT_NULL slot (old
    linkers wrote both tags)."""
    with lib.open("rb") as fh:
        dyn = next(s for s in ELFFile(fh).iter_segments() if s["p_type"] == "PT_DYNAMIC")
        offset, data = int(dyn["p_offset"]), dyn.data()
    entries = list(struct.iter_unpack("<qQ", data))
    end = next(i for i, (tag, _) in enumerate(entries) if tag == 0)
    assert entries[end + 1][0] == 0, "no spare slot"
    value = next(value for tag, value in entries if tag == 29)
    with lib.open("r+b") as fh:
        fh.seek(offset + 16 * end)
        fh.write(struct.pack("<qQqQ", DT_RPATH, value, 0, 0))


@pytest.mark.parametrize("entries", [SUB, LONG], ids=["in-place", "grow"])
@pytest.mark.parametrize("as_rpath", [False, True])
def test_both_tags_become_one(tmp_path: Path, entries: tuple[str, ...], as_rpath: bool) -> None:
    lib = top(tmp_path, PLACEHOLDER, NEW)
    add_rpath_beside_runpath(lib)
    assert set(readelf_tags(lib)) == {"RUNPATH", "RPATH"}
    assert edit_search_path(lib, entries, as_rpath=as_rpath)
    assert_sound(lib, {"RPATH" if as_rpath else "RUNPATH": ":".join(entries)})
    assert loads(lib)


def test_shared_string_is_not_overwritten(tmp_path: Path) -> None:
    """ld stores the symbol name "here" as the tail of "$ORIGIN/nothere": a shorter path that
    would fit in place goes into a new string instead, and the symbol stays."""
    source = TOP + "int here(void) { return 7; }\n"
    lib = top(tmp_path, "-Wl,-rpath,$ORIGIN/nothere", source=source)
    with lib.open("rb") as fh:
        section = ELFFile(fh).get_section_by_name(".dynstr")
        assert section is not None
        dynstr = section.data()
    assert b"\0here\0" not in dynstr and b"/nothere\0" in dynstr  # the precondition: merged
    size = lib.stat().st_size
    assert edit_search_path(lib, SUB, as_rpath=False)
    assert lib.stat().st_size > size
    assert_sound(lib, {"RUNPATH": SUB[0]})
    assert loads(lib) and loads(lib, "here", 7)


def without_notes(lib: Path) -> None:
    """Make every PT_NOTE a PT_NULL, when the linker made any."""
    with lib.open("rb") as fh:
        elf = ELFFile(fh)
        phoff, count = elf["e_phoff"], elf["e_phnum"]
    with lib.open("r+b") as fh:
        for i in range(count):
            fh.seek(phoff + 56 * i)
            if struct.unpack("<I", fh.read(4))[0] == PT_NOTE:
                fh.seek(phoff + 56 * i)
                fh.write(struct.pack("<I", PT_NULL))


def refused(tmp_path: Path, kind: str) -> Path:
    if kind == "no-note":  # no build-id note, and no property note on this toolchain
        lib = top(tmp_path, "-Wl,--build-id=none")
        without_notes(lib)
        return lib
    if kind == "static":  # no PT_DYNAMIC
        c_file = tmp_path / "start.c"
        c_file.write_text("void _start(void) { for (;;) {} }\n")
        run(["gcc", "-static", "-nostdlib", "-o", str(tmp_path / "prog"), str(c_file)])
        return tmp_path / "prog"
    if kind == "text":
        (tmp_path / "notes.txt").write_text("not an ELF file\n")
        return tmp_path / "notes.txt"
    lib = top(tmp_path)
    data = bytearray(lib.read_bytes())
    data[4 if kind == "32-bit" else 5] = 1 if kind == "32-bit" else 2  # EI_CLASS, EI_DATA
    lib.write_bytes(bytes(data))
    return lib


@pytest.mark.parametrize("kind", ["no-note", "static", "text", "32-bit", "big-endian"])
def test_refused_files_are_untouched(tmp_path: Path, kind: str) -> None:
    path = refused(tmp_path, kind)
    before = path.read_bytes()
    assert not edit_search_path(path, LONG, as_rpath=False)
    assert path.read_bytes() == before


MEASURE = """
import resource, sys
from pathlib import Path
from uv_portable.binaries.elf_edit import edit_search_path
path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[2] == "edit":
    ok = edit_search_path(path, ("$ORIGIN/" + "much-longer-than-before/" * 4,), as_rpath=False)
else:  # the control: the same measure sees a whole-file read
    ok = len(path.read_bytes()) > 0
print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_big_file_uses_little_memory(tmp_path: Path) -> None:
    big = build(
        tmp_path, "big", "char big[200 << 20] = {1};\nint big_fn(void) { return big[0]; }\n", SHORT
    )
    assert big.stat().st_size > 200 << 20
    growth = {}
    for mode in ("control", "edit"):
        out = run([sys.executable, "-c", MEASURE, str(big), mode], cwd=REPO).stdout.split()
        assert out[0] == "True"
        growth[mode] = int(out[1]) // 1024  # ru_maxrss is in KiB on Linux
    print(f"peak RSS growth: edit {growth['edit']} MiB, reading the file {growth['control']} MiB")
    # The control reads 200 MB: 174 MiB of growth on a quiet machine, 61 MiB once under memory
    # pressure from another suite; either way far above what the edit may cost.
    assert growth["control"] > 50
    assert growth["edit"] < 25
    assert_sound(big, {"RUNPATH": "$ORIGIN/" + "much-longer-than-before/" * 4})
    assert loads(big, "big_fn", 1)


def numpy_wheel(folder: Path) -> Path:
    """folder, holding numpy/ and numpy.libs/ for this interpreter, installed by uv (from its
    cache when it has the wheel, else from the index)."""
    pip_install(sys.executable, ["numpy"], options=["--target", str(folder)], env=uv_env())
    return folder


IMPORT = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy
assert numpy.__file__.startswith(sys.argv[1]), numpy.__file__
print(numpy.arange(3).sum())
"""


@pytest.mark.parametrize("as_rpath", [False, True])
def test_numpy_extension(tmp_path: Path, as_rpath: bool) -> None:
    """A manylinux extension that patchelf (auditwheel) already edited: first in place to a
    wrong folder (numpy no longer imports: the loader follows the edit), then grown with an
    extra entry (numpy imports again)."""
    wheel = numpy_wheel(tmp_path / "wheel")
    for name in ("numpy", "numpy.libs"):
        shutil.copytree(wheel / name, tmp_path / name, symlinks=True)
    (ext,) = (tmp_path / "numpy" / "_core").glob("_multiarray_umath.*.so")
    tag = "RPATH" if as_rpath else "RUNPATH"
    (old,) = read_elf(ext).search_path
    assert old == "$ORIGIN/../../numpy.libs"
    argv = [sys.executable, "-I", "-c", IMPORT, str(tmp_path)]
    assert run(argv).stdout.strip() == "3"

    assert edit_search_path(ext, (old[:-1] + "_",), as_rpath=as_rpath)
    assert_sound(ext, {tag: old[:-1] + "_"})
    assert subprocess.run(argv, capture_output=True).returncode != 0

    entries = (old, "$ORIGIN/nonexistent-long-entry-" + "x" * 40)
    size = ext.stat().st_size
    assert edit_search_path(ext, entries, as_rpath=as_rpath)
    assert ext.stat().st_size > size
    assert_sound(ext, {tag: ":".join(entries)})
    assert run(argv).stdout.strip() == "3"


def test_set_search_path_edits_large_files_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = top(tmp_path, SHORT)
    calls: list[Path] = []

    def spy(path: Path, entries: tuple[str, ...], *, as_rpath: bool) -> bool:
        calls.append(path)
        return edit_search_path(path, entries, as_rpath=as_rpath)

    def no_patchelf(*args: object, **kwargs: object) -> None:
        raise AssertionError("patchelf ran")

    monkeypatch.setattr(patchelf_module, "LARGE", lib.stat().st_size)
    monkeypatch.setattr(patchelf_module, "edit_search_path", spy)
    monkeypatch.setattr(patchelf_module, "run_tool", no_patchelf)
    lib.chmod(0o555)  # not writable: set_search_path lends the permission and takes it back
    patchelf_module.set_search_path(lib, LONG, as_rpath=False)
    assert calls == [lib]
    assert lib.stat().st_mode & 0o777 == 0o555
    assert_sound(lib, {"RUNPATH": ":".join(LONG)})
    assert loads(lib)


@pytest.mark.parametrize("size", ["large-refused", "small"])
def test_set_search_path_falls_back_to_patchelf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str
) -> None:
    """A large file the editor refuses (no PT_NOTE), and any small file, go to patchelf."""
    lib = top(tmp_path, "-Wl,--build-id=none")
    without_notes(lib)
    calls: list[bool] = []

    def spy(path: Path, entries: tuple[str, ...], *, as_rpath: bool) -> bool:
        calls.append(edit_search_path(path, entries, as_rpath=as_rpath))
        return calls[-1]

    if size == "large-refused":
        monkeypatch.setattr(patchelf_module, "LARGE", 0)
    monkeypatch.setattr(patchelf_module, "edit_search_path", spy)
    patchelf_module.set_search_path(lib, SUB, as_rpath=False)
    assert calls == ([False] if size == "large-refused" else [])
    assert readelf_tags(lib) == {"RUNPATH": SUB[0]}
    assert loads(lib)
