"""OCI image layouts and SquashFS images (issue 21): reproducible, the same members as the
tar.gz export, read back by ``check``, and hostile images get findings, not crashes. Running
them mounted is tests/e2e/test_images.py."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import cli, run, tree_digest

EPOCH = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}


def _export(venv: Path, out: Path, *extra: str) -> Path:
    # Neither verification nor bytecode changes what is claimed here: keep it quick.
    proc = cli("export", str(venv), str(out), "--no-verify", "--no-compile", *extra, env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def images(small_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("images")
    made = {name: _export(small_venv, out / name) for name in ("a.oci", "a.oci.tar", "a.sqfs")}
    (out / "b").mkdir()
    made["b.oci"] = _export(small_venv, out / "b" / "a.oci")
    made["b.sqfs"] = _export(small_venv, out / "b" / "a.sqfs")
    made["tar.gz"] = _export(small_venv, out / "env.tar.gz")
    return made


def _json(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_bytes())
    return value


def _blob(layout: Path, digest: object) -> Path:
    return layout / "blobs" / "sha256" / str(digest).split(":", 1)[1]


def _image(layout: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image's manifest and config."""
    index = _json(layout / "index.json")
    descriptor = index["manifests"][0]
    manifest = _json(_blob(layout, descriptor["digest"]))
    return manifest, _json(_blob(layout, manifest["config"]["digest"]))


def test_oci_layout_is_reproducible_and_its_layer_is_the_tar_gz_export(
    images: dict[str, Path],
) -> None:
    layout = images["a.oci"]
    assert tree_digest(layout) == tree_digest(images["b.oci"])
    assert _json(layout / "oci-layout") == {"imageLayoutVersion": "1.0.0"}
    manifest, config = _image(layout)
    (layer,) = manifest["layers"]
    blob = _blob(layout, layer["digest"]).read_bytes()
    assert blob == images["tar.gz"].read_bytes()  # one writer, one set of members
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    annotations = manifest["annotations"]
    assert annotations["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        inside = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    for key, rel in (
        ("dev.uv-portable.manifest.digest", "share/uv-portable/manifest.json"),
        ("dev.uv-portable.sbom.digest", "share/uv-portable/sbom.cdx.json"),
    ):
        assert annotations[key] == "sha256:" + hashlib.sha256(inside[rel]).hexdigest()


def test_the_sbom_refers_to_the_image(images: dict[str, Path]) -> None:
    layout = images["a.oci"]
    image, referrer = _json(layout / "index.json")["manifests"]
    artifact = _json(_blob(layout, referrer["digest"]))
    assert artifact["artifactType"] == "application/vnd.cyclonedx+json"
    assert artifact["subject"]["digest"] == image["digest"]
    (sbom,) = artifact["layers"]
    assert _json(_blob(layout, sbom["digest"]))["bomFormat"] == "CycloneDX"


def test_oci_tar_is_the_layout_in_a_tar(images: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(images["a.oci.tar"]) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "x", filter="data")
    assert {"oci-layout", "index.json"} <= set(names)
    assert tree_digest(tmp_path / "x") == tree_digest(images["a.oci"])


@pytest.mark.parametrize("name", ["a.oci", "a.oci.tar", "a.sqfs"])
def test_check_passes_the_images(images: dict[str, Path], name: str) -> None:
    proc = cli("check", str(images[name]), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["manifest"] is True and report["ok"] is True


def test_squashfs_is_reproducible(images: dict[str, Path]) -> None:
    assert images["a.sqfs"].read_bytes() == images["b.sqfs"].read_bytes()
    assert images["a.sqfs"].read_bytes()[:4] == b"hsqs"


def _errors(proc_stdout: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for f in json.loads(proc_stdout)["findings"]:
        if f["severity"] == "error":
            found.setdefault(f["code"], set()).add(f["path"])
    return found


def test_check_names_a_tampered_blob(images: dict[str, Path], tmp_path: Path) -> None:
    layout = shutil.copytree(images["a.oci"], tmp_path / "t.oci")
    manifest, _ = _image(layout)
    path = _blob(layout, manifest["config"]["digest"])
    path.write_bytes(path.read_bytes().replace(b'"os":"linux"', b'"os":"linux" '))
    proc = cli("check", str(layout), "--json")
    assert proc.returncode == 1, proc.stderr
    rel = str(path.relative_to(layout))
    assert rel in _errors(proc.stdout)["digest-mismatch"]


def _descriptor(
    layout: Path, media_type: str, data: bytes, digest: str | None = None
) -> dict[str, object]:
    digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
    if ".." not in digest:
        _blob(layout, digest).write_bytes(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _hostile_layout(root: Path, forged: bool) -> Path:
    """A layout whose layer holds `../escaped` (and with ``forged`` a descriptor naming a
    path, not a digest): made by hand, as an attacker would."""
    layout = root / "hostile.oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in ("bin", "../escaped"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"hi\n"))
    layer = _descriptor(
        layout, "application/vnd.oci.image.layer.v1.tar+gzip", gzip.compress(raw.getvalue())
    )
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    manifest["config"] = _descriptor(layout, "application/vnd.oci.image.config.v1+json", config)
    manifest["layers"] = [layer]
    if forged:
        manifest["layers"].append(_descriptor(layout, "x", b"", "sha256:../../../../etc/passwd"))  # type: ignore[attr-defined]
    image = _descriptor(
        layout, "application/vnd.oci.image.manifest.v1+json", json.dumps(manifest).encode()
    )
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [image]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return layout


@pytest.mark.parametrize("forged", [False, True])
def test_hostile_layouts_get_findings(tmp_path: Path, forged: bool) -> None:
    layout = _hostile_layout(tmp_path / "in", forged)
    proc = cli("check", str(layout), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = _errors(proc.stdout)
    assert "../escaped" in errors["unsafe-member"]
    assert ("bad-digest" in errors) == forged
    assert not list(tmp_path.rglob("escaped"))


def test_a_squashfs_that_is_not_one(tmp_path: Path) -> None:
    fake = tmp_path / "env.sqfs"
    fake.write_bytes(b"hsqs" + b"\0" * 4000)
    proc = cli("check", str(fake))
    assert proc.returncode == 2, proc.stderr
    assert "is not a readable SquashFS image" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_mksquashfs_is_found_before_any_work(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    proc = cli("export", str(tmp_path / "no-such-venv"), str(tmp_path / "env.sqfs"), env=env)
    assert proc.returncode == 6, proc.stderr  # the tool, not the missing venv (exit 4)
    assert "mksquashfs is not installed" in proc.stderr and "squashfs-tools" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_check_looks_below_a_nested_arcroot(small_venv: Path, tmp_path: Path) -> None:
    archive = _export(small_venv, tmp_path / "env.tar", "--arcroot", "opt/app")
    with tarfile.open(archive) as tar:
        assert tar.getnames()[:3] == ["opt", "opt/app", "opt/app/bin"]
    proc = cli("check", str(archive), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["manifest"] is True


@pytest.mark.parametrize("name", ["a.oci", "a.oci.tar", "a.sqfs"])
def test_the_archive_caps_apply_to_images(images: dict[str, Path], name: str) -> None:
    proc = cli("check", str(images[name]), "--max-members", "10")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "holds more than 10 members; not extracted" in proc.stderr


def test_links_out_of_a_squashfs_image_are_findings(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "python").write_text("#!/bin/sh\n")
    os.symlink("../../../etc", tree / "bin" / "up")
    os.symlink("/etc/passwd", tree / "abs")
    image = tmp_path / "hostile.sqfs"
    mksquashfs = shutil.which("mksquashfs")
    assert mksquashfs, "squashfs-tools is not installed; .ci/run installs it"
    run([mksquashfs, str(tree), str(image), "-quiet", "-no-progress"])
    proc = cli("check", str(image), "--json")
    assert proc.returncode == 1, proc.stderr
    assert _errors(proc.stdout)["unsafe-member"] == {"bin/up", "abs"}


def test_a_built_image_is_titled_with_the_project(tmp_path: Path) -> None:
    project = shutil.copytree(
        Path(__file__).parents[1] / "fixtures" / "demo_project", tmp_path / "p"
    )
    layout = tmp_path / "demo.oci"
    proc = cli("build", str(project), "-o", str(layout), "--no-verify", "--no-compile", env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    manifest, _ = _image(layout)
    annotations = manifest["annotations"]
    assert annotations["org.opencontainers.image.title"] == "demo-app"
    assert annotations["org.opencontainers.image.version"] == "0.1.0"


def test_an_unknown_entrypoint_is_refused_before_any_work(small_venv: Path, tmp_path: Path) -> None:
    proc = cli("export", str(small_venv), str(tmp_path / "env.oci"), "--entrypoint", "cowsy")
    assert proc.returncode == 2, proc.stderr
    assert "the export has no bin/cowsy" in proc.stderr
    assert "console scripts: cowsay" in proc.stderr
    assert list(tmp_path.iterdir()) == []
