"""Bytecode: every .py of an export gets a hash-based pyc made by its own interpreter; the
source venv is never touched; exports stay reproducible; bad sources are skipped."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import WITHOUT_DAC, cli, run, tree_digest
from uv_portable.source.venv import load_source
from uv_portable.write.bytecode import CompileOptions, compile_export

LIB = "lib/python3.12"
# Run by the exported interpreter: every .py without a valid hash-based plain pyc (outside
# packages' test folders unless tests).
AUDIT = r"""
import importlib.util, json, os, struct, sys
root, checked, tests = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
bad, seen = [], 0
site = os.path.join(root, "site-packages")
for folder, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    inner = os.path.relpath(folder, site).split(os.sep)[1:]
    if folder.startswith(site + os.sep) and not tests and {"tests", "test"} & set(inner):
        continue
    for name in files:
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        seen += 1
        try:
            data = open(importlib.util.cache_from_source(path), "rb").read(16)
        except OSError:
            bad.append(path)
            continue
        source_hash = importlib.util.source_hash(open(path, "rb").read())
        flags = 0b11 if checked else 0b01
        if data != importlib.util.MAGIC_NUMBER + struct.pack("<I", flags) + source_hash:
            bad.append(path)
print(json.dumps({"seen": seen, "bad": bad}))
"""


def _audit(tree: Path, checked: bool = False, tests: bool = False) -> dict[str, Any]:
    python = str(tree / "bin" / "python")
    proc = run([python, "-B", "-c", AUDIT, str(tree / LIB), str(int(checked)), str(int(tests))])
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _pycs(tree: Path) -> set[str]:
    return {str(p.relative_to(tree)) for p in tree.rglob("*.pyc")}


@pytest.fixture
def broken_venv(small_venv_copy: Path) -> Path:
    """small_venv plus a Python 2 module and a file with a syntax error."""
    site = small_venv_copy / LIB / "site-packages"
    (site / "py2only.py").write_text('print "hello"\n')
    (site / "broken.py").write_text("def f(:\n")
    return small_venv_copy


def test_folder_export_has_a_valid_pyc_for_every_source(small_venv: Path, tmp_path: Path) -> None:
    proc = cli("export", str(small_venv), str(tmp_path / "env"), "--json")
    assert proc.returncode == 0, proc.stderr
    audit = _audit(tmp_path / "env")
    assert audit["bad"] == [] and int(str(audit["seen"])) > 500
    summary = json.loads(proc.stdout)["bytecode"]
    assert summary["sources"] == audit["seen"] and summary["failed"] == []
    assert summary["compiled"] > 0 and summary["bytes_added"] > 0


def test_package_tests_are_compiled_only_when_asked(small_venv: Path, tmp_path: Path) -> None:
    tests = "site-packages/cowsay/tests"
    manifest = "share/uv-portable/manifest.json"
    for flag, wanted in (("--no-compile-tests", False), ("--compile-tests", True)):
        out = tmp_path / flag
        proc = cli("export", str(small_venv), str(out), "--no-verify", flag)
        assert proc.returncode == 0, proc.stderr
        assert any((out / LIB / tests).glob("*.py"))
        assert any((out / LIB / tests).glob("__pycache__/*.pyc")) == wanted
        options = json.loads((out / manifest).read_text())["options"]
        assert options["bytecode_of_package_tests"] is wanted
    assert _audit(tmp_path / "--compile-tests", tests=True)["bad"] == []
    assert _audit(tmp_path / "--no-compile-tests", tests=True)["bad"] != []


def test_checked_hash_mode(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "env"
    proc = cli("export", str(small_venv), str(out), "--invalidation-mode", "checked-hash")
    assert proc.returncode == 0, proc.stderr
    assert _audit(out, checked=True)["bad"] == []
    bad = cli("export", str(small_venv), str(tmp_path / "e2"), "--invalidation-mode", "mtime")
    assert bad.returncode == 2 and "--invalidation-mode: expected one of" in bad.stderr


def test_archive_export_never_writes_into_the_source(small_venv_copy: Path, tmp_path: Path) -> None:
    """Archive staging hard-links the source's files: pycs must be new files, not writes
    through those links. Stale timestamp pycs in the source are replaced in the output."""
    site = small_venv_copy / LIB / "site-packages"
    run([str(small_venv_copy / "bin" / "python"), "-m", "compileall", "-q", str(site)])
    stale = next(site.rglob("__pycache__/*.cpython-312.pyc"))
    before = tree_digest(small_venv_copy)
    archive = tmp_path / "env.tar"
    proc = cli("export", str(small_venv_copy), str(archive))
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(small_venv_copy) == before
    assert struct.unpack("<I", stale.read_bytes()[4:8])[0] == 0  # still a timestamp pyc
    (tmp_path / "x").mkdir()
    run(["tar", "-xf", str(archive), "-C", str(tmp_path / "x")])
    assert _audit(tmp_path / "x")["bad"] == []


def test_two_archive_exports_are_byte_identical(small_venv: Path, tmp_path: Path) -> None:
    for name in ("a.tar.gz", "b.tar.gz"):
        proc = cli("export", str(small_venv), str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_no_compile_ships_no_new_pycs(small_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "env"
    proc = cli("export", str(small_venv), str(out), "--no-compile", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "bytecode" not in json.loads(proc.stdout)
    base = load_source(small_venv).base.prefix
    shipped = {p for p in _pycs(out) if p.startswith(LIB)}
    assert shipped and shipped <= _pycs(base)  # only the base's own pycs, copied as they are
    assert not any("site-packages" in p for p in shipped)


def test_sources_that_do_not_compile_are_skipped_and_counted(
    broken_venv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "env"
    proc = cli("export", str(broken_venv), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    failed = {Path(f["path"]).name for f in json.loads(proc.stdout)["bytecode"]["failed"]}
    assert failed == {"py2only.py", "broken.py"}
    assert sorted(_audit(out)["bad"]) == sorted(
        str(out / LIB / "site-packages" / n) for n in ("broken.py", "py2only.py")
    )
    text = cli("export", str(broken_venv), str(tmp_path / "e2"))
    assert "2 file(s) do not compile and were skipped" in text.stderr


def test_a_write_failure_mid_compile_cleans_up(small_venv_copy: Path, tmp_path: Path) -> None:
    """A file where a __pycache__ folder must go: writing fails mid-compile, exit 6."""
    (small_venv_copy / LIB / "site-packages" / "cowsay" / "__pycache__").write_text("x")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = cli("export", str(small_venv_copy), str(out_dir / "env.tar.gz"))
    assert proc.returncode == 6, proc.stderr
    assert "uv-portable: error:" in proc.stderr and "__pycache__" in proc.stderr
    assert list(out_dir.iterdir()) == []


def test_another_platform_without_interpreter_is_a_note(
    small_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from uv_portable.write import bytecode

    base = dataclasses.replace(load_source(small_venv).base, platform="macos")
    monkeypatch.setattr(bytecode, "host_interpreter", lambda base: None)
    notes: list[str] = []
    assert compile_export(tmp_path, base, CompileOptions(), notes.append) is None
    assert notes == [
        "bytecode not compiled: no CPython 3.12 on this host to compile a macos export with"
    ]


def test_another_platform_compiles_with_a_host_python(small_venv: Path, tmp_path: Path) -> None:
    import dataclasses

    base = load_source(small_venv).base
    tree = tmp_path / "tree"
    shutil.copytree(base.stdlib / "json", tree / LIB / "json")  # with the base's pycs
    (tree / LIB / "site-packages").mkdir()
    (tree / LIB / "site-packages" / "mod.py").write_text("X = 1\n")
    notes: list[str] = []
    other = dataclasses.replace(base, platform="macos")
    summary = compile_export(tree, other, CompileOptions(), notes.append)
    assert summary is not None and summary.failed == () and notes == [summary.note()]
    assert (summary.sources, summary.compiled, summary.converted) == (6, 1, 5)
    assert (tree / LIB / "site-packages" / "__pycache__" / "mod.cpython-312.pyc").is_file()


def test_read_only_source_folders_get_pycs(small_venv_copy: Path, tmp_path: Path) -> None:
    """Without the capabilities that let root ignore permissions, like a normal user."""
    (small_venv_copy / LIB / "site-packages" / "cowsay").chmod(0o555)
    out = tmp_path / "env"
    proc = cli("export", str(small_venv_copy), str(out), prefix=WITHOUT_DAC)
    assert proc.returncode == 0, proc.stderr
    assert (out / LIB / "site-packages" / "cowsay" / "__pycache__").is_dir()
    assert _audit(out)["bad"] == []


def test_sources_without_pycs_are_compiled_while_copying(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    """early_sources picks the copies of .py files no pyc of the source comes with; the export
    compiles those from the source while it copies, and the rest after, each exactly once."""
    from uv_portable.plan import PlanOptions, make_plan
    from uv_portable.write.bytecode import early_sources

    site = small_venv_copy / LIB / "site-packages"
    (site / "fresh.py").write_text("A = 1\n")
    (site / "cached.py").write_text("B = 2\n")
    (site / "dotted.name.py").write_text("C = 3\n")  # like 3.10's stdlib __phello__.foo.py
    for name in ("cached.py", "dotted.name.py"):
        run([str(small_venv_copy / "bin" / "python"), "-m", "py_compile", str(site / name)])
    source = load_source(small_venv_copy)
    plan = make_plan(source, PlanOptions())
    early = {s.rel: s.read_from for s in early_sources(plan, source.base.lib_dest, False)}
    assert early[f"{LIB}/site-packages/fresh.py"] == site / "fresh.py"
    assert not [rel for rel in early if "/cowsay/tests/" in rel]  # as exports do by default
    assert f"{LIB}/site-packages/cached.py" not in early
    assert f"{LIB}/site-packages/dotted.name.py" not in early  # its pyc is copied: no race
    assert all(rel.startswith(f"{LIB}/") and rel.endswith(".py") for rel in early)

    proc = cli("export", str(small_venv_copy), str(tmp_path / "env"), "--json", "--no-verify")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["bytecode"]
    audit = _audit(tmp_path / "env")
    assert audit["bad"] == [] and summary["sources"] == audit["seen"]
    assert summary["compiled"] >= len(early) > 0
    assert summary["compiled"] + summary["reused"] == summary["sources"]


def test_early_pycs_serve_the_source_imports(small_venv_copy: Path, tmp_path: Path) -> None:
    """The early pass links each pyc where the source venv's verification imports (run with
    a scratch sys.pycache_prefix) look for it; those imports use it as it is."""
    from uv_portable.plan import PlanOptions, make_plan
    from uv_portable.prove.probe import probe_interpreter
    from uv_portable.write.bytecode import compile_copies

    site = small_venv_copy / LIB / "site-packages"
    (site / "fresh.py").write_text("A = 1\n")
    source = load_source(small_venv_copy)
    plan = make_plan(source, PlanOptions())
    root, mirror = tmp_path / "tree", tmp_path / "pycache"
    root.mkdir()
    summary = compile_copies(root, plan, source.base, CompileOptions(), mirror)
    assert summary is not None and summary.compiled > 0
    staged = root / LIB / "site-packages" / "__pycache__" / "fresh.cpython-312.pyc"
    linked = mirror / str(site).lstrip("/") / "fresh.cpython-312.pyc"
    assert linked.stat().st_ino == staged.stat().st_ino
    (site / "later.py").write_text("B = 2\n")  # the control: no early pyc for it
    probe = probe_interpreter(
        small_venv_copy / "bin" / "python", ("fresh", "later"), pycache=mirror
    )
    assert probe.imported == ("fresh", "later"), probe
    assert linked.stat().st_ino == staged.stat().st_ino  # not rewritten: it was valid
    assert (linked.parent / "later.cpython-312.pyc").is_file()  # compiled by the import
    assert not list(site.glob("__pycache__/fresh.*"))  # nothing written into the source
