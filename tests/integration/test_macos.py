"""macOS venvs exported on Linux: install names and load paths rewritten with macholib, fat
binaries keep their slices, every changed slice is re-signed ad hoc, checked by an independent
signature verifier and by LLVM's otool; bad Mach-O input is refused before anything is written.

The tree is built from real macOS wheels from PyPI, with a stand-in interpreter whose load
commands match an uv-managed python-build-standalone install (absolute libpython)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cs_verify import signature_problems
from tests.helpers import cli, llvm_tool, macos_wheels, run
from tests.integration.test_bad_input import assert_clean_failure
from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.macho import check_rewrite, read_macho

REFUSED = 5


@dataclass(frozen=True)
class MacTree:
    root: Path
    base: Path
    venv: Path
    brew: Path


def _unzip(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)


def _change(path: Path, old: str, new: str) -> None:
    run([llvm_tool("llvm-install-name-tool"), "-change", old, new, str(path)])


def make_mac_tree(root: Path) -> MacTree:
    wheels = macos_wheels()
    unpacked = root / "wheels"
    for wheel in wheels.glob("*.whl"):
        _unzip(wheel, unpacked / wheel.stem)
    # Short on purpose: ruff's header has 80 spare bytes for the absolute libpython path.
    base = root / "py"
    libdir = base / "lib" / "python3.12"
    (libdir / "lib-dynload").mkdir(parents=True)
    (base / "bin").mkdir()
    for name in ("os.py", "site.py"):
        (libdir / name).write_text("# stand-in standard library\n")
    openblas = next(unpacked.glob("numpy-*/numpy/.dylibs/libscipy_openblas64_.dylib"))
    speedups = next(unpacked.glob("MarkupSafe-*/markupsafe/_speedups*.so"))
    libpython = base / "lib" / "libpython3.12.dylib"
    shutil.copy2(openblas, libpython)
    run([llvm_tool("llvm-install-name-tool"), "-id", str(libpython), str(libpython)])
    exe = base / "bin" / "python3.12"
    shutil.copy2(next(unpacked.glob("ruff-*/*.data/scripts/ruff")), exe)
    exe.chmod(0o755)
    _change(exe, "/usr/lib/libiconv.2.dylib", str(libpython))  # an absolute libpython
    shutil.copy2(speedups, libdir / "lib-dynload" / "_json.cpython-312-darwin.so")
    fat = libdir / "lib-dynload" / "_fat_abs.cpython-312-darwin.so"
    shutil.copy2(speedups, fat)
    _change(fat, "/usr/lib/libSystem.B.dylib", str(libpython))

    venv = root / "venv"
    site = venv / "lib" / "python3.12" / "site-packages"
    (venv / "bin").mkdir(parents=True)
    site.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(
        f"home = {base / 'bin'}\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.12.7\n"
        "include-system-site-packages = false\nrelocatable = true\n"
    )
    os.symlink(exe, venv / "bin" / "python")
    for pattern in (
        "numpy-*/numpy",
        "numpy-*/numpy-*.dist-info",
        "pyyaml-*arm64/yaml",
        "MarkupSafe-*/markupsafe",
    ):
        src = next(unpacked.glob(pattern))
        shutil.copytree(src, site / src.name, symlinks=True)
    shutil.copytree(next(unpacked.glob("pyyaml-*x86_64/yaml")), site / "yaml_x86")
    shutil.copy2(next(unpacked.glob("ruff-*/*.data/scripts/ruff")), venv / "bin" / "ruff")
    (venv / "bin" / "ruff").chmod(0o755)
    brew = root / "hb" / "libopenblas.0.dylib"  # a Homebrew-style dylib outside the venv
    brew.parent.mkdir(parents=True)
    shutil.copy2(openblas, brew)
    umath = next(site.glob("numpy/_core/_multiarray_umath*.so"))
    _change(umath, "@loader_path/../.dylibs/libscipy_openblas64_.dylib", str(brew))
    return MacTree(root, base, venv, brew)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[MacTree, Path, str]:
    tree = make_mac_tree(tmp_path_factory.mktemp("mac"))
    out = tree.root / "out"
    proc = cli("export", str(tree.venv), str(out))
    assert proc.returncode == 0, proc.stderr
    return tree, out, proc.stderr


def otool_loads(path: Path) -> list[str]:
    out = run([llvm_tool("llvm-otool"), "-L", str(path)]).stdout
    return [ln.strip().split(" (compatibility")[0] for ln in out.splitlines()[1:] if ln.strip()]


def otool_commands(path: Path, command: str) -> list[str]:
    out = run([llvm_tool("llvm-otool"), "-l", str(path)]).stdout.splitlines()
    values = []
    for i, line in enumerate(out):
        if line.strip() == f"cmd {command}":
            for follow in out[i + 1 : i + 4]:
                key = "path" if command == "LC_RPATH" else "name"
                if follow.strip().startswith(key + " "):
                    values.append(follow.strip().split()[1])
    return values


def machos(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.is_symlink()
        and p.read_bytes()[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
    ]


def test_interpreter_and_libpython_are_rewritten(exported: tuple[MacTree, Path, str]) -> None:
    _, out, stderr = exported
    assert otool_loads(out / "bin" / "python3.12")[2] == "@loader_path/../lib/libpython3.12.dylib"
    assert otool_commands(out / "lib" / "libpython3.12.dylib", "LC_ID_DYLIB") == [
        "@rpath/libpython3.12.dylib"
    ]
    assert "re-signed" in stderr and "in place" in stderr


def test_no_absolute_non_system_load_path_remains(exported: tuple[MacTree, Path, str]) -> None:
    _, out, _ = exported
    files = machos(out)
    assert len(files) > 10
    for path in files:
        for load in otool_loads(path):
            if load.startswith("/"):
                assert load.startswith(("/usr/lib/", "/System/Library/")) or load.startswith(
                    "/DLC/"
                ), (path, load)  # numpy's own never-resolving install name
        for load in otool_loads(path):
            if load.startswith("@loader_path/"):
                assert (path.parent / load[len("@loader_path/") :]).resolve().is_file(), (
                    path,
                    load,
                )


def test_homebrew_dylib_is_bundled(exported: tuple[MacTree, Path, str]) -> None:
    _, out, _ = exported
    umath = next(out.glob("lib/python3.12/site-packages/numpy/_core/_multiarray_umath*.so"))
    assert otool_loads(umath)[0] == "@loader_path/../../../../libopenblas.0.dylib"
    bundled = out / "lib" / "libopenblas.0.dylib"
    assert bundled.is_file()
    assert otool_commands(bundled, "LC_ID_DYLIB") == ["@rpath/libopenblas.0.dylib"]


def test_fat_binaries_keep_all_slices(exported: tuple[MacTree, Path, str]) -> None:
    tree, out, _ = exported
    rel = "lib/python3.12/lib-dynload/_fat_abs.cpython-312-darwin.so"
    lipo = llvm_tool("llvm-lipo")
    before = run([lipo, "-archs", str(tree.base / rel)]).stdout.split()
    after = run([lipo, "-archs", str(out / rel)]).stdout.split()
    assert before == after == ["x86_64", "arm64"]
    for arch in after:
        thin = out.parent / f"thin-{arch}.so"
        run([lipo, str(out / rel), "-thin", arch, "-output", str(thin)])
        assert otool_loads(thin)[0] == "@loader_path/../../libpython3.12.dylib"
    assert [s.arch for s in read_macho(out / rel)] == ["x86_64", "arm64"]


def test_every_signature_matches_its_pages(exported: tuple[MacTree, Path, str]) -> None:
    _, out, _ = exported
    for path in machos(out):
        assert signature_problems(path) == [], path


def test_untouched_files_are_byte_identical(exported: tuple[MacTree, Path, str]) -> None:
    tree, out, _ = exported
    site = "lib/python3.12/site-packages"
    same = [
        f"{site}/yaml_x86",
        f"{site}/markupsafe",
        "bin/ruff",
        "lib/python3.12/lib-dynload/_json.cpython-312-darwin.so",
    ]
    sources = {
        "bin/ruff": tree.venv / "bin" / "ruff",
        "lib/python3.12/lib-dynload/_json.cpython-312-darwin.so": tree.base
        / "lib/python3.12/lib-dynload/_json.cpython-312-darwin.so",
    }
    for rel in same:
        src = sources.get(rel, tree.venv / rel)
        files = [src] if src.is_file() else [p for p in src.rglob("*") if p.is_file()]
        for path in files:
            twin = out / rel / path.relative_to(src) if src.is_dir() else out / rel
            assert (
                hashlib.sha256(path.read_bytes()).digest()
                == hashlib.sha256(twin.read_bytes()).digest()
            ), twin


def test_check_reports_only_wheel_leftovers(exported: tuple[MacTree, Path, str]) -> None:
    _, out, _ = exported
    proc = cli("check", str(out), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report
    codes = {f["code"] for f in report["findings"] if f["severity"] == "warning"}
    assert codes <= {"abs-install-name", "abs-rpath", "unresolved-rpath"}
    assert any("/opt/gfortran" in f["message"] for f in report["findings"])


def test_editing_without_resigning_is_caught(
    exported: tuple[MacTree, Path, str], tmp_path: Path
) -> None:
    from macholib.MachO import MachO

    _, out, _ = exported
    victim = tmp_path / "edited.so"
    shutil.copy2(next(out.glob("lib/python3.12/site-packages/yaml/_yaml*.so")), victim)
    macho = MachO(str(victim))
    header = macho.headers[0]
    for idx, (_lc, _cmd, data) in enumerate(header.commands):
        if isinstance(data, bytes) and b"libSystem" in data:
            # same name, longer command: page 0 changes, the signature is left as it was
            header.rewriteDataForCommand(idx, b"/usr/lib/libSystem.B.dylib\0\0\0\0\0\0\0\0")
    with victim.open("r+b") as fh:
        macho.write(fh)
    assert signature_problems(victim) != []
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy2(victim, tree / "bin" / "tool.so")
    proc = cli("check", str(tree), "--json")
    assert any(f["code"] == "bad-signature" for f in json.loads(proc.stdout)["findings"])


def test_no_room_for_a_longer_load_command(exported: tuple[MacTree, Path, str]) -> None:
    _, out, _ = exported
    target = next(out.glob("lib/python3.12/site-packages/yaml/_yaml*.so"))
    with pytest.raises(BinaryFormatError, match="no room in the Mach-O header"):
        check_rewrite(target, {"/usr/lib/libSystem.B.dylib": "/" + "x" * 4000}, {})


def _set_first_cputype(path: Path, cputype: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into("<i", data, 4, cputype)
    path.write_bytes(bytes(data))


def _unsign(path: Path) -> None:
    """Turn LC_CODE_SIGNATURE into LC_DYLIB_CODE_SIGN_DRS: the slice now reads as unsigned."""
    data = bytearray(path.read_bytes())
    ncmds = struct.unpack_from("<I", data, 16)[0]
    pos = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        if cmd == 0x1D:
            struct.pack_into("<I", data, pos, 0x2B)
        pos += size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("plant", "words"),
    [
        ("cpu", "unknown Mach-O CPU type"),
        ("unsigned", "the arm64 slice is unsigned; signing it is not implemented"),
    ],
)
def test_bad_macho_input_is_refused(tmp_path: Path, plant: str, words: str) -> None:
    tree = make_mac_tree(tmp_path)
    yaml_so = next(tree.venv.glob("lib/python3.12/site-packages/yaml/_yaml*.so"))
    if plant == "cpu":
        _set_first_cputype(yaml_so, 18)  # PowerPC
    else:
        _change(yaml_so, "/usr/lib/libSystem.B.dylib", str(tree.brew))
        _unsign(yaml_so)
    before = hashlib.sha256(yaml_so.read_bytes()).hexdigest()
    proc = cli("export", str(tree.venv), str(tmp_path / "out"))
    assert_clean_failure(proc, REFUSED, words)
    assert "_yaml" in proc.stderr
    assert not (tmp_path / "out").exists()
    assert hashlib.sha256(yaml_so.read_bytes()).hexdigest() == before


def test_dry_run_json_lists_macho_edits(tmp_path: Path) -> None:
    tree = make_mac_tree(tmp_path)
    proc = cli("export", str(tree.venv), str(tmp_path / "out"), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["base"]["platform"] == "macos"
    edits = {a["dest"]: a for a in plan["actions"] if a["action"] == "set-macho"}
    assert edits["bin/python3.12"]["names"] == {
        str(tree.base / "lib" / "libpython3.12.dylib"): "@loader_path/../lib/libpython3.12.dylib"
    }
    assert not list(tmp_path.glob("out*"))
    text = cli("export", str(tree.venv), str(tmp_path / "out"), "--dry-run")
    assert text.returncode == 0, text.stderr
    lib = tree.base / "lib" / "libpython3.12.dylib"
    assert f"patch:   bin/python3.12 {lib} -> @loader_path/../lib/libpython3.12.dylib" in (
        text.stdout
    )


def test_framework_builds_are_refused(tmp_path: Path) -> None:
    tree = make_mac_tree(tmp_path)
    framework = tmp_path / "Python.framework" / "Versions" / "3.12"
    shutil.copytree(tree.base, framework, symlinks=True)
    (tree.venv / "bin" / "python").unlink()
    os.symlink(framework / "bin" / "python3.12", tree.venv / "bin" / "python")
    cfg = (tree.venv / "pyvenv.cfg").read_text().replace(str(tree.base), str(framework))
    (tree.venv / "pyvenv.cfg").write_text(cfg)
    proc = cli("export", str(tree.venv), str(tmp_path / "out"))
    assert_clean_failure(proc, 4, "framework build")


def test_our_reader_agrees_with_llvm_otool(tmp_path: Path) -> None:
    """llvm-otool is the independent reader the other tests check exports with: on the real
    wheels, it must see the same load commands and rpaths as our macholib reader."""
    tree = make_mac_tree(tmp_path)
    files = sorted(tree.venv.glob("lib/python3.12/site-packages/**/*.so"))
    assert files
    for path in files:
        slices = read_macho(path)
        first = slices[0]  # otool prints the first slice of a fat file
        install = [first.install_name] if first.install_name else []
        assert otool_loads(path) == [*install, *first.loads], path
        assert otool_commands(path, "LC_RPATH") == list(first.rpaths), path


def test_missing_dylib_follows_the_one_policy(tmp_path: Path) -> None:
    """A dylib the build host lacks too is a warning naming the file, as for ELF."""
    tree = make_mac_tree(tmp_path)
    yaml_so = next(tree.venv.glob("lib/python3.12/site-packages/yaml/_yaml*.so"))
    _change(yaml_so, "/usr/lib/libSystem.B.dylib", "/opt/nowhere/libfoo.1.dylib")
    proc = cli("export", str(tree.venv), str(tmp_path / "out"), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    found = [f for f in plan["findings"] if f["code"] == "optional-library-absent"]
    assert len(found) == 1 and "_yaml" in found[0]["path"], found
    assert [m["soname"] for m in plan["missing_libraries"]] == ["libfoo.1.dylib"]
