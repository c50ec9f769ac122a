"""Shared libraries are bundled and the glibc floor is honest: proven in bare Debian roots
made with debootstrap (no Python, no libssl/libsqlite3/libreadline), not on the host's /usr/lib."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PROBE, PYENV_ROOT, cli, debian_root, make_venv, probe_json, run_sandboxed

pytestmark = pytest.mark.e2e
MOUNT = "/opt/app/env"
MODULES = ["ssl", "sqlite3", "ctypes", "lzma", "bz2", "readline", "uuid", "pyexpat", "numpy"]
HTTPS = (
    "import ssl, sqlite3; c = ssl.create_default_context(); "
    "print(c.protocol, sqlite3.sqlite_version)"
)


@pytest.fixture(scope="module")
def bookworm() -> Path:
    return debian_root("bookworm")


@pytest.fixture(scope="module")
def bullseye() -> Path:
    return debian_root("bullseye")


@pytest.fixture(scope="module")
def dynamic_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv on pyenv's CPython 3.12, which links libssl, libsqlite3, ... from the host."""
    base = sorted((PYENV_ROOT / "versions").glob("3.12.*"))[-1] / "bin" / "python3.12"
    return make_venv(tmp_path_factory.mktemp("dyn") / "venv", "3.12", ["numpy"], python=str(base))


@pytest.fixture(scope="module")
def bundled(
    dynamic_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bundled") / "env"
    proc = cli("export", str(dynamic_venv), str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_the_root_really_lacks_python_and_the_libraries(bookworm: Path) -> None:
    assert not list((bookworm / "usr" / "bin").glob("python*"))
    libdir = bookworm / "usr" / "lib" / "x86_64-linux-gnu"
    for lib in ("libssl.so.3", "libsqlite3.so.0", "libreadline.so.8", "libexpat.so.1"):
        assert not (libdir / lib).exists(), lib


def test_bundled_export_runs_in_bare_debian(
    bundled: tuple[Path, dict[str, Any]], bookworm: Path, bwrap: str
) -> None:
    out, summary = bundled
    sonames = {b["soname"] for b in summary["bundled"]}
    assert {"libssl.so.3", "libsqlite3.so.0", "libffi.so.8", "libreadline.so.8"} <= sonames
    assert not sonames & {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"}
    proc = run_sandboxed(
        out, [f"{MOUNT}/bin/python", "-c", PROBE, *MODULES], mount_at=MOUNT, rootfs=bookworm
    )
    assert proc.returncode == 0, proc.stderr
    info = probe_json(proc.stdout)
    assert str(info["prefix"]) == MOUNT
    proc = run_sandboxed(out, [f"{MOUNT}/bin/python", "-c", HTTPS], mount_at=MOUNT, rootfs=bookworm)
    assert proc.returncode == 0, proc.stderr


def test_negative_control_without_bundling_fails(
    dynamic_venv: Path, tmp_path: Path, bookworm: Path, bwrap: str
) -> None:
    out = tmp_path / "env"
    proc = cli("export", str(dynamic_venv), str(out), "--no-bundle")
    assert proc.returncode == 0, proc.stderr
    proc = run_sandboxed(
        out,
        [f"{MOUNT}/bin/python", "-c", "import ssl, sqlite3, readline"],
        mount_at=MOUNT,
        rootfs=bookworm,
    )
    assert proc.returncode != 0
    assert (
        "libssl.so.3" in proc.stderr or "libsqlite3" in proc.stderr or "libreadline" in proc.stderr
    )


def test_glibc_floor_is_reported_and_matches_reality(
    bundled: tuple[Path, dict[str, Any]],
    dynamic_venv: Path,
    bullseye: Path,
    bwrap: str,
    tmp_path: Path,
) -> None:
    out, summary = bundled
    floor = tuple(int(p) for p in str(summary["glibc_floor"]).split("."))
    assert floor > (2, 31), "this machine's builds need a newer glibc than bullseye's 2.31"
    per_file = summary["glibc_per_file"]
    assert (
        max(per_file.values(), key=lambda v: tuple(map(int, v.split("."))))
        == summary["glibc_floor"]
    )
    proc = run_sandboxed(
        out, [f"{MOUNT}/bin/python", "-c", "print(1)"], mount_at=MOUNT, rootfs=bullseye
    )
    assert proc.returncode != 0
    assert "GLIBC_" in proc.stderr
    refused = cli("export", str(dynamic_venv), str(tmp_path / "old"), "--target-glibc", "2.31")
    assert refused.returncode == 5, refused.stderr
    assert "newer glibc than 2.31" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "old").exists()
    ok = cli(
        "export",
        str(dynamic_venv),
        str(tmp_path / "ok"),
        "--target-glibc",
        str(summary["glibc_floor"]),
        "--dry-run",
    )
    assert ok.returncode == 0, ok.stderr
