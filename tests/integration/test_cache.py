"""The shared cache (issue 20): content-addressed pycs and the source's import baseline.
Exports are byte-identical whether the cache was cold, warm, off, filled by two exports at
once, or held a damaged entry; a cache that cannot be written is skipped with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, WITHOUT_DAC, cli, make_venv, on_small_tmpfs
from uv_portable.source.venv import load_source
from uv_portable.write.bytecode import CompileOptions, Source, compile_tree, in_package_tests
from uv_portable.write.pyc_cache import Cache, evict, usage

LIB = "lib/python3.12"


def _export(venv: Path, out: Path, *args: str, prefix: tuple[str, ...] = ()) -> dict[str, object]:
    proc = cli("export", str(venv), str(out), "--json", *args, prefix=prefix)
    assert proc.returncode == 0, proc.stderr
    summary: dict[str, object] = json.loads(proc.stdout)
    summary["stderr"] = proc.stderr
    return summary


def _bytecode(summary: dict[str, object]) -> dict[str, int]:
    value = summary["bytecode"]
    assert isinstance(value, dict)
    return value


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "pyc-v1").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def reference(small_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The .tar export made without the cache: what every other export must equal."""
    out = tmp_path_factory.mktemp("ref") / "env.tar"
    _export(small_venv, out, "--no-verify", "--no-cache")
    return out.read_bytes()


def test_cold_warm_and_off_exports_are_byte_identical(
    small_venv: Path, reference: bytes, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cold = _export(small_venv, tmp_path / "cold.tar", "--no-verify", "--cache-dir", str(cache))
    assert (tmp_path / "cold.tar").read_bytes() == reference
    assert _bytecode(cold)["compiled"] >= 5 and _bytecode(cold)["from_cache"] == 0
    assert len(_entries(cache)) == _bytecode(cold)["compiled"]
    warm = _export(small_venv, tmp_path / "warm.tar", "--no-verify", "--cache-dir", str(cache))
    assert (tmp_path / "warm.tar").read_bytes() == reference
    assert _bytecode(warm)["compiled"] == 0
    assert _bytecode(warm)["from_cache"] == _bytecode(cold)["compiled"]
    assert "from the cache" in str(warm["stderr"])


def test_two_exports_filling_the_cache_at_once(
    small_venv: Path, reference: bytes, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    export = [sys.executable, "-m", "uv_portable", "export", str(small_venv)]
    procs = [
        subprocess.Popen(
            [*export, str(tmp_path / f"{name}.tar"), "--no-verify", "--cache-dir", str(cache)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
    assert (tmp_path / "a.tar").read_bytes() == reference
    assert (tmp_path / "b.tar").read_bytes() == reference
    assert not [p for p in cache.rglob("*.tmp")]  # every entry appeared by rename


def test_a_damaged_entry_is_compiled_again(
    small_venv: Path, reference: bytes, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _export(small_venv, tmp_path / "fill.tar", "--no-verify", "--cache-dir", str(cache))
    entries = _entries(cache)
    truncated, flipped, foreign = entries[0], entries[1], entries[2]
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    data = bytearray(flipped.read_bytes())
    data[-1] ^= 0xFF
    flipped.write_bytes(bytes(data))
    foreign.write_bytes(entries[3].read_bytes())  # a whole entry, of another source
    again = _export(small_venv, tmp_path / "again.tar", "--no-verify", "--cache-dir", str(cache))
    assert (tmp_path / "again.tar").read_bytes() == reference
    assert _bytecode(again)["compiled"] == 3
    assert truncated.read_bytes() == whole  # replaced by a good entry


def test_a_cache_that_cannot_be_written_is_skipped_with_one_line(
    small_venv: Path, reference: bytes, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    missing = _export(
        small_venv, tmp_path / "m.tar", "--no-verify", "--cache-dir", str(blocker / "cache")
    )
    assert (tmp_path / "m.tar").read_bytes() == reference
    assert str(missing["stderr"]).count("cache not used") == 1
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    tmp_path.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    ro = _export(
        small_venv,
        out / "r.tar",
        "--no-verify",
        "--cache-dir",
        str(readonly),
        prefix=WITHOUT_DAC,
    )
    assert (out / "r.tar").read_bytes() == reference
    assert str(ro["stderr"]).count("cache not used") == 1
    assert "Permission denied" in str(ro["stderr"])
    assert list(readonly.iterdir()) == []


def test_a_full_cache_stops_storing_with_one_line(
    small_venv: Path, reference: bytes, tmp_path: Path
) -> None:
    """The cache on a 12 KB tmpfs (in a private mount namespace, as root): the first entries
    fit, then the disk is full; the export goes on and says so once."""
    full = tmp_path / "full"
    full.mkdir()
    out = tmp_path / "f.tar"
    export = ["export", str(small_venv), str(out), "--no-verify", "--cache-dir", str(full)]
    proc = on_small_tmpfs(full, "12k", export)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == reference
    assert proc.stderr.count("not written to") == 1, proc.stderr
    assert "No space left on device" in proc.stderr


def test_the_import_baseline_is_reused_until_the_source_changes(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    cache = ("--cache-dir", str(tmp_path / "cache"))
    reused = "baseline reused from the cache"
    first = _export(small_venv_copy, tmp_path / "1", *cache)
    assert reused not in str(first["stderr"])
    second = _export(small_venv_copy, tmp_path / "2", *cache)
    assert reused in str(second["stderr"])
    manifest = "share/uv-portable/manifest.json"
    imports = [json.loads((tmp_path / n / manifest).read_text())["imports"] for n in "12"]
    assert imports[0] == imports[1] and "cowsay" in imports[0]["baseline"]
    # an edit that no RECORD shows
    module = next((small_venv_copy / LIB / "site-packages" / "cowsay").glob("*.py"))
    module.write_text(module.read_text() + "\n# edited\n")
    third = _export(small_venv_copy, tmp_path / "3", *cache)
    assert reused not in str(third["stderr"])
    # a changed RECORD (a reinstall) with every file as it was
    record = next((small_venv_copy / LIB / "site-packages").glob("cowsay-*.dist-info/RECORD"))
    stat = record.stat()
    record.write_text(record.read_text().replace("sha256=", "sha256=0"))
    os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fourth = _export(small_venv_copy, tmp_path / "4", *cache)
    assert reused not in str(fourth["stderr"])
    fifth = _export(small_venv_copy, tmp_path / "5", *cache, "--no-cache")
    assert reused not in str(fifth["stderr"])


def test_cache_commands(tmp_path: Path) -> None:
    root = tmp_path / "c"
    env = {**os.environ, "UV_PORTABLE_CACHE_DIR": str(root)}
    assert cli("cache", "dir", env=env).stdout.strip() == str(root)
    other = tmp_path / "other"
    assert cli("cache", "dir", "--cache-dir", str(other), env=env).stdout.strip() == str(other)
    xdg = {k: v for k, v in os.environ.items() if k != "UV_PORTABLE_CACHE_DIR"}
    xdg["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    assert cli("cache", "dir", env=xdg).stdout.strip() == str(tmp_path / "xdg" / "uv-portable")
    (root / "pyc-v1" / "ab").mkdir(parents=True)
    (root / "pyc-v1" / "ab" / "cd").write_bytes(b"x" * 100)
    (root / "imports-v1").mkdir()
    (root / "imports-v1" / "k.json").write_bytes(b"{}")
    (root / "mine.txt").write_text("not uv-portable's")
    assert cli("cache", "size", env=env).stdout.strip() == "102"
    proc = cli("cache", "clean", env=env)
    assert proc.returncode == 0 and "removed 2 files" in proc.stderr
    assert sorted(p.name for p in root.iterdir()) == ["mine.txt"]


def test_eviction_removes_the_least_recently_used(tmp_path: Path) -> None:
    folder = tmp_path / "pyc-v1" / "00"
    folder.mkdir(parents=True)
    for i in range(10):
        entry = folder / f"e{i}"
        entry.write_bytes(b"x" * 1000)
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))  # e0 used longest ago
    stale = folder / "e.123.tmp"
    stale.write_bytes(b"x")
    os.utime(stale, (1, 1))
    assert evict(Cache(tmp_path, limit=20_000)) == (1, 1)  # under the bound: only the tmp
    assert evict(Cache(tmp_path, limit=5_000)) == (6, 6000)  # down to 90% of the bound
    assert sorted(p.name for p in folder.iterdir()) == ["e6", "e7", "e8", "e9"]
    assert usage(tmp_path) == (4, 4000)


FOLDERS = ("email", "json", "asyncio", "logging", "unittest", "http", "xml", "encodings")


@pytest.mark.parametrize("minor", ["3.10", "3.12"])
def test_a_pyc_does_not_depend_on_what_its_batch_compiled_before(
    minor: str, tmp_path: Path
) -> None:
    """The property that lets a pyc made by one export stand in for another's: the same
    sources compiled in other batches and orders give the same bytes (on 3.10, some of these
    differ without the worker's interning and marshal round trip; 3.12 differs more rarely)."""
    base = load_source(make_venv(tmp_path / "venv", minor, [])).base
    stdlib = base.stdlib
    names = sorted(
        str(p.relative_to(stdlib)) for folder in FOLDERS for p in (stdlib / folder).rglob("*.py")
    )
    assert len(names) > 200

    def compiled(order: list[str], name: str) -> dict[str, bytes]:
        root = tmp_path / name
        root.mkdir()
        sources = [Source(f"lib/{base.libdir_name}/{n}", 0, stdlib / n) for n in order]
        summary = compile_tree(root, sources, base.executable, CompileOptions())
        assert summary.compiled == len(order) and not summary.failed
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.pyc")}

    forward = compiled(names, "forward")
    backward = compiled(names[::-1], "backward")
    shuffled = compiled(names[1::2] + names[0::2], "shuffled")
    assert len(forward) == len(names)
    assert forward == backward == shuffled


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("lib/python3.12/site-packages/pandas/tests/frame/test_api.py", True),
        ("lib/python3.12/site-packages/numpy/_core/tests/test_umath.py", True),
        ("lib/python3.12/site-packages/pkg/test/helpers.py", True),
        ("lib/python3.12/site-packages/pandas/core/frame.py", False),
        ("lib/python3.12/site-packages/numpy/testing/__init__.py", False),  # used at run time
        ("lib/python3.12/site-packages/tests/__init__.py", False),  # a top-level package
        ("lib/python3.12/site-packages/test.py", False),
        ("lib/python3.12/test/test_os.py", False),  # the stdlib's: --keep-tests decides
        ("lib/python3.12/site-packages/pkg/tests.py", False),
    ],
)
def test_package_test_folders(rel: str, expected: bool) -> None:
    assert in_package_tests(rel, "lib/python3.12") is expected
