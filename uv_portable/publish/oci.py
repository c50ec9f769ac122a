"""OCI image layouts (issue 21): the export as one tar.gz layer with an image config and
manifest, and its SBOM as an artifact that refers to the image, in a folder (`.oci`) or a tar of
that folder (`.oci.tar`). Deterministic: two exports of one venv give the same bytes.

A Kubernetes image volume or ``podman --mount type=image`` mounts the layer read-only at any
path; with ``--arcroot opt/app`` the layer goes on top of a base image instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uv_portable import __version__
from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.elf import read_elf
from uv_portable.errors import UsageError, io_error
from uv_portable.model import CopyFile, MakeSymlink, Plan, WriteFile
from uv_portable.prove.manifest import SBOM_PATH, sha256_of
from uv_portable.publish.archive import Progress, write_archive, write_tar_stream
from uv_portable.publish.output import MANIFEST_PATH, publish, temp_path
from uv_portable.settings import ArchiveOptions

LAYOUT_VERSION = "1.0.0"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_TYPE = "application/vnd.cyclonedx+json"
EMPTY = b"{}"
TAG = "latest"  # the image's org.opencontainers.image.ref.name: `oci:env.oci:latest`
# Annotations: the OCI's own, and ours (the digests of the files check compares with).
REF_NAME = "org.opencontainers.image.ref.name"
CREATED = "org.opencontainers.image.created"
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
FILE_MANIFEST = "dev.uv-portable.manifest.digest"
SBOM_DIGEST = "dev.uv-portable.sbom.digest"
ARCROOT = "dev.uv-portable.arcroot"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# ELF e_machine -> GOARCH, as OCI configs name architectures.
ARCHITECTURES = {
    "EM_X86_64": "amd64",
    "EM_AARCH64": "arm64",
    "EM_386": "386",
    "EM_ARM": "arm",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
}


@dataclass(frozen=True)
class Blob:
    """One content-addressed blob and its descriptor fields."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        """sha256:<hex> of the bytes."""
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """An OCI descriptor of the blob (extra fields: annotations, platform, ...)."""
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
            **extra,
        }


def canonical(document: dict[str, Any]) -> bytes:
    """JSON with sorted keys and no spaces: one document, one digest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def rfc3339(epoch: int) -> str:
    """A UTC timestamp as OCI annotations and configs write it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class ImageFacts:
    """What the image's JSON documents say, gathered from the finished tree."""

    architecture: str
    created: str
    diff_id: str  # sha256 of the uncompressed layer
    layer: dict[str, Any]  # the layer's descriptor
    arcroot: str | None
    entrypoint: str | None
    annotations: dict[str, str]


def image_config(facts: ImageFacts) -> dict[str, Any]:
    """The image config: platform, PATH (the export's bin/ first), entrypoint, the layer."""
    root = "/" + facts.arcroot.strip("/") if facts.arcroot else ""
    path = f"{root}/bin:{DEFAULT_PATH}" if root else DEFAULT_PATH
    config: dict[str, Any] = {"Env": [f"PATH={path}"]}
    if facts.entrypoint:
        config["Entrypoint"] = [f"{root}/bin/{facts.entrypoint}"]
    return {
        "architecture": facts.architecture,
        "os": "linux",
        "created": facts.created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [facts.diff_id]},
        "history": [{"created": facts.created, "created_by": f"uv-portable {__version__}"}],
    }


def image_manifest(config: Blob, facts: ImageFacts) -> dict[str, Any]:
    """The image manifest: the config and the one layer, with the image's annotations."""
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config.descriptor(),
        "layers": [facts.layer],
        "annotations": facts.annotations,
    }


def sbom_manifest(sbom: Blob, image: Blob, created: str) -> dict[str, Any]:
    """The SBOM as an OCI 1.1 artifact whose ``subject`` is the image (a referrer)."""
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": SBOM_TYPE,
        "config": Blob(EMPTY_TYPE, EMPTY).descriptor(),
        "layers": [sbom.descriptor(annotations={TITLE: Path(SBOM_PATH).name})],
        "subject": image.descriptor(),
        "annotations": {CREATED: created},
    }


def image_index(image: Blob, referrer: Blob, architecture: str) -> dict[str, Any]:
    """index.json: the image, tagged, and the SBOM artifact that refers to it."""
    return {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [
            image.descriptor(
                annotations={REF_NAME: TAG},
                platform={"architecture": architecture, "os": "linux"},
            ),
            referrer.descriptor(artifactType=SBOM_TYPE),
        ],
    }


def source_annotations(tree: Path) -> dict[str, str]:
    """Title and version of the project the venv belongs to: the distribution that
    pyvenv.cfg's prompt names (uv sync writes the project's name there), when installed."""
    try:
        cfg = (tree / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
        manifest = json.loads((tree / MANIFEST_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    prompt = ""
    for line in cfg.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "prompt":
            prompt = value.strip()
    wanted = prompt.lower().replace("_", "-").replace(".", "-")
    for dist in manifest.get("distributions", []):
        if dist.get("canonical_name") == wanted:
            return {TITLE: str(dist["name"]), VERSION: str(dist["version"])}
    return {}


def architecture_of(tree: Path) -> str:
    """The OCI architecture of the export's interpreter (bin/python's ELF machine)."""
    python = tree / "bin" / "python"
    try:
        machine = read_elf(python.resolve()).machine
    except (OSError, BinaryFormatError) as exc:
        raise UsageError(
            f"an OCI image holds a Linux export, and {python} is not a Linux interpreter",
            "export a Linux venv, or choose another format",
        ) from exc
    if machine not in ARCHITECTURES:
        raise UsageError(f"no OCI architecture for {machine}", "choose another format")
    return ARCHITECTURES[machine]


def _no_script(name: str, names: list[str]) -> UsageError:
    venv_own = ("activate", "deactivate", "python", "pydoc")
    scripts = sorted(n for n in names if not n.startswith(venv_own) and "." not in n)
    return UsageError(
        f"--entrypoint {name}: the export has no bin/{name}",
        "name one of its console scripts: " + (", ".join(scripts[:12]) or "(none)"),
    )


def check_entrypoint(plan: Plan, options: ArchiveOptions | None) -> None:
    """Refuse, before anything is copied, an --entrypoint the plan puts no bin/NAME for."""
    name = options.entrypoint if options is not None else None
    if name is None:
        return
    dests = [a.dest for a in plan.actions if isinstance(a, (CopyFile, WriteFile, MakeSymlink))]
    if f"bin/{name}" not in dests:
        raise _no_script(name, [d[4:] for d in dests if d.startswith("bin/") and "/" not in d[4:]])


def _check_entrypoint(tree: Path, name: str | None) -> None:
    if name is not None and not (tree / "bin" / name).is_file():
        raise _no_script(name, [p.name for p in (tree / "bin").iterdir()])


def _write_blob(blobs: Path, blob: Blob) -> None:
    path = blobs / blob.digest.split(":", 1)[1]
    path.write_bytes(blob.data)


def write_layout(
    tree: Path, layout: Path, options: ArchiveOptions, progress: Progress | None = None
) -> int:
    """Write the OCI image layout of the tree into the empty folder layout; its blob bytes."""
    architecture = architecture_of(tree)
    _check_entrypoint(tree, options.entrypoint)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    pending = blobs / ".layer"
    diff = hashlib.sha256()
    with pending.open("xb") as fh:
        write_tar_stream(tree, fh, replace(options, format="tar.gz"), progress, diff.update)
    layer_digest = sha256_of(pending)
    size = pending.stat().st_size
    layer: dict[str, Any] = {
        "mediaType": LAYER_TYPE,
        "digest": f"sha256:{layer_digest}",
        "size": size,
    }
    os.replace(pending, blobs / layer_digest)
    created = rfc3339(options.mtime)
    annotations = {
        CREATED: created,
        **source_annotations(tree),
        FILE_MANIFEST: "sha256:" + sha256_of(tree / MANIFEST_PATH),
        SBOM_DIGEST: "sha256:" + sha256_of(tree / SBOM_PATH),
    }
    if options.arcroot:
        annotations[ARCROOT] = options.arcroot.strip("/")
    facts = ImageFacts(
        architecture,
        created,
        f"sha256:{diff.hexdigest()}",
        layer,
        options.arcroot,
        options.entrypoint,
        annotations,
    )
    config = Blob(CONFIG_TYPE, canonical(image_config(facts)))
    image = Blob(MANIFEST_TYPE, canonical(image_manifest(config, facts)))
    sbom = Blob(SBOM_TYPE, (tree / SBOM_PATH).read_bytes())
    referrer = Blob(MANIFEST_TYPE, canonical(sbom_manifest(sbom, image, created)))
    written = size
    for blob in (config, image, sbom, Blob(EMPTY_TYPE, EMPTY), referrer):
        _write_blob(blobs, blob)
        written += len(blob.data)
    (layout / "oci-layout").write_bytes(canonical({"imageLayoutVersion": LAYOUT_VERSION}))
    (layout / "index.json").write_bytes(canonical(image_index(image, referrer, architecture)))
    for folder, _, files in os.walk(layout):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return written


def write_oci(
    tree: Path,
    dest: Path,
    options: ArchiveOptions,
    progress: Progress | None = None,
    *,
    replace: bool = False,
) -> int:
    """Write the tree as an OCI image layout at dest (a folder, or with format oci.tar a tar
    of it), atomically; the bytes written."""
    stage = temp_path(dest)
    try:
        stage.mkdir()
        written = write_layout(tree, stage, options, progress)
        if options.format == "oci.tar":
            tar = ArchiveOptions("tar", mtime=options.mtime)
            return write_archive(stage, dest, tar, replace=replace).bytes_out
        publish(stage, dest, force=replace)
        return written
    except OSError as exc:
        raise io_error(exc, exc.filename or dest, writing=True) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
