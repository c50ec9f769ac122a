"""Each archive format round-trips: extracted by the system tools and by Python, it runs with
the host interpreter hidden; archives are reproducible and safe to extract."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.helpers import PROBE, cli, probe_json, run, run_sandboxed

pytestmark = pytest.mark.e2e
MOUNT = "/srv/unpacked/environment"
SUFFIXES = ["env.tar", "env.tar.gz", "env.tgz", "env.tar.zst", "env.zip"]


def _extract_with_system_tools(archive: Path, dest: Path) -> None:
    dest.mkdir()
    name = archive.name
    if name.endswith(".zip"):
        run(["unzip", "-q", str(archive), "-d", str(dest)])
    elif name.endswith(".tar.zst"):
        run(["tar", "--zstd", "-xf", str(archive), "-C", str(dest)])
    else:
        run(["tar", "-xf", str(archive), "-C", str(dest)])


def _extract_with_python(archive: Path, dest: Path) -> None:
    dest.mkdir()
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                zf.extract(info, dest)
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    os.chmod(dest / info.filename, mode & 0o777)
        return
    if archive.name.endswith(".tar.zst"):
        import zstandard

        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as zst,
            tarfile.open(fileobj=zst, mode="r|") as tar,
        ):
            tar.extractall(dest, filter="data")
        return
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")  # refuses absolute names, '..', links out


@pytest.fixture(scope="module")
def archives(small_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("archives")
    made = {}
    for suffix in SUFFIXES:
        proc = cli("export", str(small_venv), str(out / suffix))
        assert proc.returncode == 0, proc.stderr
        made[suffix] = out / suffix
    return made


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("extractor", ["system", "python"])
def test_archive_round_trip_runs_with_host_hidden(
    archives: dict[str, Path], suffix: str, extractor: str, tmp_path: Path, bwrap: str
) -> None:
    dest = tmp_path / "x"
    (_extract_with_system_tools if extractor == "system" else _extract_with_python)(
        archives[suffix], dest
    )
    assert (dest / "bin" / "python").exists(), "members must sit at the archive root"
    proc = run_sandboxed(dest, [f"{MOUNT}/bin/python", "-c", PROBE], mount_at=MOUNT)
    assert proc.returncode == 0, proc.stderr
    assert probe_json(proc.stdout)["prefix"] == MOUNT
    proc = run_sandboxed(dest, [f"{MOUNT}/bin/cowsay", "-t", "unpacked"], mount_at=MOUNT)
    assert proc.returncode == 0 and "unpacked" in proc.stdout, proc.stderr


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_archives_are_reproducible(
    small_venv: Path, archives: dict[str, Path], suffix: str, tmp_path: Path
) -> None:
    again = tmp_path / suffix
    proc = cli("export", str(small_venv), str(again))
    assert proc.returncode == 0, proc.stderr
    first = hashlib.sha256(archives[suffix].read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == first


def test_tar_members_are_normalised(archives: dict[str, Path]) -> None:
    with tarfile.open(archives["env.tar.gz"]) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    position = {name: i for i, name in enumerate(names)}
    for name in names:  # every folder comes before its contents, siblings in name order
        parent = name.rpartition("/")[0]
        assert not parent or position[parent] < position[name], name
    siblings = [n for n in names if n.startswith("bin/") and n.count("/") == 1]
    assert siblings == sorted(siblings)
    assert "bin/python" in names and not any(n.startswith(("/", "./", "..")) for n in names)
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "")
        assert m.mtime == 315532800
        assert not m.pax_headers
        if m.isdir():
            assert m.mode == 0o755
        elif m.isfile():
            assert m.mode in (0o644, 0o755)
        assert not m.issym(), f"{m.name}: extractors that drop symlinks would lose it"
    python = next(m for m in members if m.name == "bin/python")
    real = next(m for m in members if m.name == "bin/python3.12")
    assert python.isfile() and real.islnk() and real.linkname == "bin/python"
    assert "lib64" not in names  # a folder alias would duplicate lib/


def test_zip_resolves_symlinks_to_files(archives: dict[str, Path]) -> None:
    with zipfile.ZipFile(archives["env.zip"]) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    python = infos["bin/python"]
    assert (python.external_attr >> 16) & 0o170000 == 0o100000  # a regular file
    assert python.file_size == infos["bin/python3.12"].file_size
    assert "lib64/" not in infos  # a directory symlink would duplicate lib/


def test_source_date_epoch_and_arcroot(small_venv: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    proc = subprocess.run(
        [
            "python",
            "-m",
            "uv_portable",
            "export",
            str(small_venv),
            str(tmp_path / "e.tar"),
            "--arcroot",
            "environment",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(tmp_path / "e.tar") as tar:
        members = tar.getmembers()
    assert all(m.name == "environment" or m.name.startswith("environment/") for m in members)
    assert {m.mtime for m in members} == {1700000000}


def test_hard_links_are_stored_once(small_venv_copy: Path, tmp_path: Path) -> None:
    site = small_venv_copy / "lib" / "python3.12" / "site-packages"
    original = next((site / "cowsay").glob("*.py"))
    os.link(original, site / "cowsay" / "hardlinked_copy.py")
    proc = cli("export", str(small_venv_copy), str(tmp_path / "env.tar"))
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(tmp_path / "env.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
    first = f"lib/python3.12/site-packages/cowsay/{original.name}"
    pair = [members[first], members["lib/python3.12/site-packages/cowsay/hardlinked_copy.py"]]
    kinds = sorted((m.type == tarfile.LNKTYPE, m.name) for m in pair)
    assert [k for k, _ in kinds] == [False, True]  # one file, one link to it
    link = next(m for m in pair if m.type == tarfile.LNKTYPE)
    assert link.linkname in members and not link.linkname.startswith("/")
