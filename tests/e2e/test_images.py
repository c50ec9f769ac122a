"""Read-only images, proven mounted (issue 21): podman (runc, cgroupfs) runs a bare bookworm
image (a debootstrap root: no Python) with the OCI export mounted as an image volume at an
arbitrary path, read-only, network off; the `--arcroot opt/app` export runs as a layer on top of
that image; a SquashFS export mounted with squashfuse runs bound into the bare root. The
negative control: venv-pack's archive of the same venv, mounted the same way, fails."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PROBE, cli, debian_root, make_venv, probe_json, run, run_sandboxed

pytestmark = [pytest.mark.e2e, pytest.mark.images]
PACKAGES = ["numpy==2.5.5", "pillow==13.0.0", "cowsay==6.1"]
# podman 4.3 on this kind of host: crun and the default ulimits fail (PORTABILITY-NOTES.md).
PODMAN = ("podman", "--runtime", "runc", "--cgroup-manager=cgroupfs")
RUN = (
    *("run", "--rm", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"),
    *("--network", "none", "--read-only"),
)
VOLUME = "/mnt/any/where"
WORK = (
    "import numpy, PIL.Image, sys; a = numpy.arange(12).reshape(3, 4); "
    "im = PIL.Image.fromarray(numpy.zeros((4, 4), dtype=numpy.uint8)); "
    "print(sys.prefix, int(a.sum()), im.size)"
)
WRITE = "open(__import__('sys').prefix + '/written', 'w')"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed; .ci/run installs it (apt-get)"
    return found


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman with this host's settings; fail the test with its output when asked to."""
    _tool("podman")
    argv = [*PODMAN, *args]
    return run(argv) if check else subprocess.run(argv, capture_output=True, text=True, check=False)


def _import(folder: Path, name: str) -> str:
    """A one-layer image of a folder's contents: `tar -c . | podman import -`."""
    _tool("podman")
    tar = subprocess.Popen(["tar", "-C", str(folder), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        [*PODMAN, "import", "-", name], stdin=tar.stdout, capture_output=True, check=False
    )
    assert tar.stdout is not None
    tar.stdout.close()
    assert tar.wait() == 0 and imported.returncode == 0, imported.stderr
    return name


@pytest.fixture(scope="module")
def tag() -> str:
    return secrets.token_hex(4)  # images of this run only, removed at the end


@pytest.fixture(scope="module")
def bare(tag: str) -> Iterator[str]:
    """A bare bookworm image: `podman import` of the cached debootstrap root."""
    root = debian_root("bookworm")
    assert not list((root / "usr" / "bin").glob("python*"))
    name = _import(root, f"localhost/uv-portable-bare:{tag}")
    yield name
    podman("rmi", "--force", name, check=False)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("images") / "venv", "3.12", PACKAGES)


def _export(venv: Path, out: Path, *extra: str) -> Path:
    proc = cli("export", str(venv), str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return out


def _load(layout: str, name: str) -> str:
    """Copy an OCI layout (or oci-archive) into podman's storage as name."""
    run([_tool("skopeo"), "copy", "-q", layout, f"containers-storage:{name}"])
    return name


@pytest.fixture(scope="module")
def layout(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(venv, tmp_path_factory.mktemp("oci") / "env.oci")


@pytest.fixture(scope="module")
def volume(layout: Path, tag: str) -> Iterator[str]:
    yield _load(f"oci:{layout}:latest", f"localhost/uv-portable-env:{tag}")
    podman("rmi", "--force", f"localhost/uv-portable-env:{tag}", check=False)


def test_skopeo_inspect_accepts_the_layout(layout: Path) -> None:
    info = json.loads(run([_tool("skopeo"), "inspect", f"oci:{layout}:latest"]).stdout)
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert len(info["Layers"]) == 1
    proc = cli("check", str(layout))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_bare_image_has_no_python(bare: str) -> None:
    proc = podman(*RUN, bare, "sh", "-c", "command -v python3 || ls /usr/lib/python3*", check=False)
    assert proc.returncode != 0, proc.stdout


def test_image_volume_runs_numpy_pil_and_a_console_script(bare: str, volume: str) -> None:
    mount = ("--mount", f"type=image,source={volume},destination={VOLUME}")
    proc = podman(*RUN, *mount, bare, f"{VOLUME}/bin/python", "-c", WORK)
    assert proc.stdout.split() == [VOLUME, "66", "(4,", "4)"]
    proc = podman(*RUN, *mount, bare, f"{VOLUME}/bin/cowsay", "-t", "mounted")
    assert "mounted" in proc.stdout
    proc = podman(*RUN, *mount, bare, f"{VOLUME}/bin/python", "-c", WRITE, check=False)
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr


def test_negative_control_venv_pack_in_an_image_volume_fails(
    venv: Path, bare: str, tag: str, tmp_path: Path
) -> None:
    archive = tmp_path / "venv-pack.tar.gz"
    run([sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(archive)])
    unpacked = tmp_path / "unpacked"  # its tar repeats paths, which podman import refuses
    unpacked.mkdir()
    run(["tar", "-C", str(unpacked), "-xzf", str(archive)])
    name = _import(unpacked, f"localhost/uv-portable-venv-pack:{tag}")
    try:
        mount = ("--mount", f"type=image,source={name},destination={VOLUME}")
        proc = podman(*RUN, *mount, bare, f"{VOLUME}/bin/python", "-c", WORK, check=False)
        # bin/python links to the build host's interpreter, which the container lacks
        assert proc.returncode == 127, proc.stdout + proc.stderr
        assert "no such file or directory" in proc.stderr
    finally:
        podman("rmi", "--force", name, check=False)


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def _write_blob(layout: Path, media_type: str, document: dict[str, object]) -> dict[str, object]:
    data = json.dumps(document, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _blob(layout, digest).write_bytes(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _image(layout: Path, ref: str) -> tuple[dict[str, object], dict[str, object]]:
    index = json.loads((layout / "index.json").read_bytes())
    descriptor = next(
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref
    )
    manifest = json.loads(_blob(layout, descriptor["digest"]).read_bytes())
    return manifest, json.loads(_blob(layout, manifest["config"]["digest"]).read_bytes())


def append_layer(app: Path) -> None:
    """In one layout, put the image `latest`'s layer on top of the image `base`'s layers, with
    latest's Env and Entrypoint, as `stacked` (what `crane append` and `crane mutate` do)."""
    base_manifest, base_config = _image(app, "base")
    app_manifest, app_config = _image(app, "latest")
    config = {
        **base_config,
        "config": {**base_config.get("config", {}), **app_config["config"]},  # type: ignore[dict-item]
        "rootfs": {
            "type": "layers",
            "diff_ids": base_config["rootfs"]["diff_ids"] + app_config["rootfs"]["diff_ids"],  # type: ignore[index]
        },
    }
    manifest = {
        **app_manifest,
        "config": _write_blob(app, "application/vnd.oci.image.config.v1+json", config),
        "layers": base_manifest["layers"] + app_manifest["layers"],  # type: ignore[operator]
    }
    descriptor = _write_blob(app, "application/vnd.oci.image.manifest.v1+json", manifest)
    descriptor["annotations"] = {"org.opencontainers.image.ref.name": "stacked"}
    index = json.loads((app / "index.json").read_bytes())
    index["manifests"].append(descriptor)
    (app / "index.json").write_text(json.dumps(index))


def test_arcroot_layer_on_top_of_the_bare_image(
    venv: Path, bare: str, tag: str, tmp_path: Path
) -> None:
    archive = _export(
        venv, tmp_path / "app.oci.tar", "--arcroot", "opt/app", "--entrypoint", "cowsay"
    )
    proc = cli("check", str(archive))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    app = tmp_path / "app"
    run(["tar", "-C", str(tmp_path), "--one-top-level=app", "-xf", str(archive)])
    run([_tool("skopeo"), "copy", "-q", f"containers-storage:{bare}", f"oci:{app}:base"])
    append_layer(app)
    name = _load(f"oci:{app}:stacked", f"localhost/uv-portable-app:{tag}")
    try:
        layers = json.loads(run([_tool("skopeo"), "inspect", f"oci:{app}:stacked"]).stdout)
        assert len(layers["Layers"]) == 2
        proc = podman(*RUN, name, "-t", "layered")  # the --entrypoint script
        assert "layered" in proc.stdout
        proc = podman(*RUN, "--entrypoint", "/opt/app/bin/python", name, "-c", WORK)
        assert proc.stdout.split() == ["/opt/app", "66", "(4,", "4)"]
        proc = podman(*RUN, "--entrypoint", "python", name, "-c", "import sys; print(sys.prefix)")
        assert proc.stdout.strip() == "/opt/app"  # Env PATH names the export's bin/ first
    finally:
        podman("rmi", "--force", name, check=False)


@pytest.fixture
def squashfs_mount(venv: Path, tmp_path: Path) -> Iterator[Path]:
    # gzip here, zstd (the default) in tests/integration/test_images.py: both are mounted
    image = _export(venv, tmp_path / "env.sqfs", "--format", "squashfs-gzip", "--level", "5")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run([_tool("squashfuse"), str(image), str(mnt)])
    try:
        yield mnt
    finally:
        subprocess.run([_tool("fusermount3"), "-u", str(mnt)], check=False)


def test_squashfs_mounted_runs_in_a_bare_root(squashfs_mount: Path) -> None:
    root, at = debian_root("bookworm"), "/srv/images/env"
    argv = [f"{at}/bin/python", "-c", PROBE, "numpy", "PIL.Image"]
    proc = run_sandboxed(squashfs_mount, argv, mount_at=at, rootfs=root)
    assert proc.returncode == 0, proc.stderr
    assert probe_json(proc.stdout)["prefix"] == at
    proc = run_sandboxed(
        squashfs_mount, [f"{at}/bin/cowsay", "-t", "squashed"], mount_at=at, rootfs=root
    )
    assert proc.returncode == 0 and "squashed" in proc.stdout, proc.stderr
    proc = run_sandboxed(
        squashfs_mount, [f"{at}/bin/python", "-c", WRITE], mount_at=at, rootfs=root
    )
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr
