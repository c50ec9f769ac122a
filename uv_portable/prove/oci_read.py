"""An OCI image layout read back for ``check`` (issue 21): the digest and size of every blob
that index.json reaches (manifests, configs, layers, the SBOM referrer), the layers' diff_ids,
and the layers extracted with the same caps and member checks as archives. A hostile layout (a
digest that does not match, a blob path made of a forged digest, a layer with ``..`` members)
gets findings, not a crash."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import IO, Any

from uv_portable.findings import Code, finding
from uv_portable.model import Finding
from uv_portable.prove.extract import Caps, extract_tar
from uv_portable.prove.manifest import SBOM_PATH, sha256_of
from uv_portable.publish.oci import ARCROOT, FILE_MANIFEST, MANIFEST_TYPE, SBOM_DIGEST
from uv_portable.publish.output import MANIFEST_PATH

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_JSON = 4 * 1024**2  # a manifest, config or index larger than this is not ours
LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar": "tar",
}


class _HashingReader:
    """A read-only stream that hashes what passes through (a layer's uncompressed bytes)."""

    def __init__(self, raw: IO[bytes] | gzip.GzipFile) -> None:
        self.raw, self.digest = raw, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        """Read to the end (the tar's padding) and return sha256:<hex>."""
        while self.read(1 << 20):
            pass
        return "sha256:" + self.digest.hexdigest()


class _Layout:
    """One layout being checked, collecting findings."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.findings: list[Finding] = []

    def error(self, code: Code, path: str, message: str, hint: str | None = None) -> None:
        self.findings.append(finding(code, path, message, hint))

    def blob(self, descriptor: Any) -> Path | None:
        """The blob a descriptor names, its size and digest checked; None when unusable."""
        if not isinstance(descriptor, dict):
            self.error("bad-oci", "index.json", "a descriptor is not a JSON object")
            return None
        digest = descriptor.get("digest")
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            self.error("bad-digest", "index.json", f"{digest!r} is not a sha256 digest")
            return None
        rel = f"blobs/sha256/{digest[7:]}"
        path = self.root / rel
        if not path.is_file() or path.is_symlink():
            self.error("blob-missing", rel, "is named by a descriptor but missing")
            return None
        size = path.stat().st_size
        if size != descriptor.get("size"):
            self.error("digest-mismatch", rel, f"holds {size} bytes, not {descriptor.get('size')}")
        elif "sha256:" + sha256_of(path) != digest:
            self.error("digest-mismatch", rel, f"does not match its digest {digest}")
        return path

    def document(self, descriptor: Any, what: str) -> dict[str, Any] | None:
        """A JSON blob (manifest, config), read after its digest is checked."""
        path = self.blob(descriptor)
        if path is None:
            return None
        rel = str(path.relative_to(self.root))
        if path.stat().st_size > MAX_JSON:
            self.error("bad-oci", rel, f"the {what} is larger than {MAX_JSON} bytes")
            return None
        try:
            data = json.loads(path.read_bytes())
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.error("bad-oci", rel, f"the {what} is not a JSON object")
            return None
        return data

    def layer(self, descriptor: Any, diff_id: object, dest: Path, caps: Caps) -> None:
        """Extract one layer into dest and compare its uncompressed digest with diff_id."""
        path = self.blob(descriptor)
        if path is None:
            return
        rel = str(path.relative_to(self.root))
        kind = LAYER_TYPES.get(str(descriptor.get("mediaType")))
        if kind is None:
            self.error("bad-oci", rel, f"unsupported layer type {descriptor.get('mediaType')}")
            return
        try:
            with path.open("rb") as raw:
                stream = _HashingReader(gzip.GzipFile(fileobj=raw) if kind == "gzip" else raw)
                with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                    extract_tar(tar, dest, self.findings, caps, path)
                found = stream.drain()
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self.error("layer-unreadable", rel, f"is not a readable layer ({exc})")
            return
        if found != diff_id:
            self.error("diff-id-mismatch", rel, f"unpacks to {found}, the config says {diff_id}")


def _is_referrer(manifest: dict[str, Any]) -> bool:
    return "subject" in manifest


def _check_layout(layout: Path, dest: Path, caps: Caps) -> list[Finding]:
    oci = _Layout(layout)
    try:
        version = json.loads((layout / "oci-layout").read_bytes()).get("imageLayoutVersion")
        index = json.loads((layout / "index.json").read_bytes())
    except (OSError, ValueError, AttributeError):
        version, index = None, None
    if not version or not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        oci.error("bad-oci", "index.json", "not an OCI image layout (oci-layout, index.json)")
        return oci.findings
    images: list[tuple[str, dict[str, Any]]] = []
    referrers: list[tuple[str, dict[str, Any]]] = []
    for descriptor in index["manifests"]:
        manifest = oci.document(descriptor, "manifest")
        if manifest is None:
            continue
        if manifest.get("mediaType", MANIFEST_TYPE) != MANIFEST_TYPE:
            oci.error("bad-oci", "index.json", f"unsupported manifest {manifest.get('mediaType')}")
            continue
        config = oci.document(manifest.get("config"), "config")
        entry = (str(descriptor["digest"]), manifest)
        (referrers if _is_referrer(manifest) else images).append(entry)
        if _is_referrer(manifest):
            for layer in manifest.get("layers") or []:
                oci.blob(layer)
        elif config is not None:
            layers = manifest.get("layers") or []
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(layers):
                oci.error("bad-oci", "index.json", "the config's diff_ids do not match the layers")
            for i, layer in enumerate(layers):
                oci.layer(layer, diff_ids[i] if i < len(diff_ids) else None, dest, caps)
    if len(images) != 1:
        oci.error("bad-oci", "index.json", f"holds {len(images)} images, not one")
        return oci.findings
    digest, image = images[0]
    for _, referrer in referrers:
        if (referrer.get("subject") or {}).get("digest") != digest:
            oci.error("bad-oci", "index.json", "a referrer names another image as its subject")
    _compare_annotations(oci, image.get("annotations") or {}, dest)
    return oci.findings


def _compare_annotations(oci: _Layout, annotations: dict[str, Any], dest: Path) -> None:
    """The file manifest and SBOM in the layer are the ones the image's annotations name."""
    tree = dest / str(annotations.get(ARCROOT, "")).strip("/")
    for key, rel in ((FILE_MANIFEST, MANIFEST_PATH), (SBOM_DIGEST, SBOM_PATH)):
        want = annotations.get(key)
        if want is None:
            continue
        path = tree / rel
        found = "sha256:" + sha256_of(path) if path.is_file() else None
        if found != want:
            oci.error("digest-mismatch", rel, f"is not the {rel} the image annotation {key} names")


def extract_image(image: Path, dest: Path, caps: Caps) -> list[Finding]:
    """Check an OCI layout (a folder, or an .oci.tar) and extract its image into dest."""
    if image.is_dir():
        return _check_layout(image, dest, caps)
    with tempfile.TemporaryDirectory(prefix="uv-portable-oci-") as tmp:
        findings: list[Finding] = []
        with tarfile.open(image, "r:") as tar:
            extract_tar(tar, Path(tmp), findings, caps, image)
        return [*findings, *_check_layout(Path(tmp), dest, caps)]
