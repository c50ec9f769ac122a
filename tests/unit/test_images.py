"""The pure parts of the OCI and SquashFS writers and readers (issue 21): format detection, the
image's JSON documents, the mksquashfs command, the unsquashfs listing, the option checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from uv_portable.errors import ToolError, UsageError
from uv_portable.publish.destination import check_image_options
from uv_portable.publish.formats import BY_NAME, FormatError, check_level, resolve_format
from uv_portable.publish.oci import (
    CREATED,
    EMPTY,
    EMPTY_TYPE,
    MANIFEST_TYPE,
    SBOM_TYPE,
    Blob,
    ImageFacts,
    image_config,
    image_index,
    image_manifest,
    rfc3339,
    sbom_manifest,
)
from uv_portable.publish.squashfs import Entry, mksquashfs_argv, parse_listing, unsafe_entries
from uv_portable.settings import ArchiveOptions


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("env.oci", "oci"),
        ("env.OCI", "oci"),
        ("env.oci.tar", "oci.tar"),
        ("env.sqfs", "squashfs"),
        ("env.squashfs", "squashfs"),
        ("env.tar", "tar"),
        ("env.tar.gz", "tar.gz"),
        ("env", "dir"),
    ],
)
def test_suffixes(name: str, fmt: str) -> None:
    assert resolve_format(Path(name)).name == fmt


@pytest.mark.parametrize("fmt", ["oci", "oci.tar", "squashfs", "squashfs-gzip"])
def test_explicit_image_formats(fmt: str) -> None:
    assert resolve_format(Path("anything"), fmt).name == fmt


def _facts(arcroot: str | None, entrypoint: str | None) -> ImageFacts:
    layer = {"mediaType": "x", "digest": "sha256:" + "1" * 64, "size": 3}
    return ImageFacts("amd64", "2023-11-14T22:13:20Z", "sha256:" + "2" * 64, layer, arcroot,
                      entrypoint, {CREATED: "2023-11-14T22:13:20Z"})  # fmt: skip


@pytest.mark.parametrize(
    ("arcroot", "entrypoint", "path", "command"),
    [
        (None, None, "/usr/local/sbin:", None),
        ("opt/app", None, "/opt/app/bin:/usr/local/sbin:", None),
        ("/opt/app/", "cowsay", "/opt/app/bin:/usr/local/sbin:", ["/opt/app/bin/cowsay"]),
        (None, "cowsay", "/usr/local/sbin:", ["/bin/cowsay"]),
    ],
)
def test_image_config(
    arcroot: str | None, entrypoint: str | None, path: str, command: list[str] | None
) -> None:
    config = image_config(_facts(arcroot, entrypoint))
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    (env,) = config["config"]["Env"]
    assert env.startswith(f"PATH={path}") and env.endswith(":/bin")
    assert config["config"].get("Entrypoint") == command
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "2" * 64]}


def test_sbom_is_a_referrer_of_the_image_and_the_index_tags_the_image() -> None:
    facts = _facts(None, None)
    config = Blob("application/vnd.oci.image.config.v1+json", b"{}")
    image = Blob(MANIFEST_TYPE, repr(image_manifest(config, facts)).encode())
    sbom = Blob(SBOM_TYPE, b'{"bomFormat": "CycloneDX"}')
    referrer = sbom_manifest(sbom, image, facts.created)
    assert referrer["artifactType"] == SBOM_TYPE
    assert referrer["subject"] == image.descriptor()
    assert referrer["config"] == Blob(EMPTY_TYPE, EMPTY).descriptor()
    assert referrer["config"]["digest"] == (
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )  # the OCI 1.1 empty descriptor
    index = image_index(image, Blob(MANIFEST_TYPE, b"r"), "amd64")
    tagged, artifact = index["manifests"]
    assert tagged["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    assert tagged["digest"] == image.digest and artifact["artifactType"] == SBOM_TYPE


@pytest.mark.parametrize(
    ("epoch", "text"), [(315532800, "1980-01-01T00:00:00Z"), (1700000000, "2023-11-14T22:13:20Z")]
)
def test_rfc3339(epoch: int, text: str) -> None:
    assert rfc3339(epoch) == text


@pytest.mark.parametrize(
    ("fmt", "level", "threads", "expected"),
    [
        ("squashfs", None, None, ["-comp", "zstd", "-Xcompression-level", "3"]),
        ("squashfs-gzip", None, None, ["-comp", "gzip", "-Xcompression-level", "6"]),
        ("squashfs", 19, 2, ["-comp", "zstd", "-Xcompression-level", "19", "-processors", "2"]),
        ("squashfs-gzip", 9, None, ["-comp", "gzip", "-Xcompression-level", "9"]),
    ],
)
def test_mksquashfs_argv(
    fmt: str, level: int | None, threads: int | None, expected: list[str]
) -> None:
    options = ArchiveOptions(fmt, level=level, threads=threads, mtime=1700000000)
    argv = mksquashfs_argv("mksquashfs", Path("/t"), Path("/o.sqfs"), options)
    assert argv[:3] == ["mksquashfs", "/t", "/o.sqfs"]
    assert [a for a in argv if a in expected] == [a for a in expected if a in argv]
    assert all(a in argv for a in expected)
    for flag in ("-all-root", "-no-xattrs", "-noappend"):
        assert flag in argv
    assert argv[argv.index("-all-time") + 1] == argv[argv.index("-mkfs-time") + 1] == "1700000000"


LISTING = """\
drwxr-xr-x 0/0                   4 2023-11-14 22:13 squashfs-root
drwxr-xr-x 0/0                 115 2023-11-14 22:13 squashfs-root/bin
lrwxrwxrwx 0/0                  10 2023-11-14 22:13 squashfs-root/bin/python -> python3.12
-rwxr-xr-x 0/0               17048 2023-11-14 22:13 squashfs-root/bin/python3.12
lrwxrwxrwx 0/0                  11 2023-11-14 22:13 squashfs-root/bin/sh -> /bin/dash
lrwxrwxrwx 0/0                  11 2023-11-14 22:13 squashfs-root/up -> ../../etc
crw-r--r-- 0/0             1,   3 2023-11-14 22:13 squashfs-root/null
-rw-r--r-- 0/0                  20 2023-11-14 22:13 squashfs-root/a file with spaces
"""


def test_parse_listing_and_unsafe_entries() -> None:
    entries = parse_listing(LISTING)
    assert [e.name for e in entries] == [
        "bin",
        "bin/python",
        "bin/python3.12",
        "bin/sh",
        "up",
        "null",
        "a file with spaces",
    ]
    assert entries[1] == Entry("l", 10, "bin/python", "python3.12")
    assert sum(e.size for e in entries if e.kind == "-") == 17068
    unsafe = {f.path: f.message for f in unsafe_entries(entries)}
    assert set(unsafe) == {"bin/sh", "up", "null"}
    assert "special file" in unsafe["null"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ArchiveOptions("tar.gz", entrypoint="cowsay"), "--entrypoint names an image's command"),
        (ArchiveOptions("oci", entrypoint="bin/cowsay"), "is not the name of a console script"),
        (ArchiveOptions("oci", entrypoint=".."), "is not the name of a console script"),
        (ArchiveOptions("squashfs", arcroot="env"), "--arcroot does not apply to SquashFS"),
    ],
)
def test_refused_image_options(options: ArchiveOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_image_options(options.format, options.entrypoint, options)


def test_missing_mksquashfs_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("os.access", lambda path, mode: False)
    with pytest.raises(ToolError) as caught:
        check_image_options("squashfs", None, ArchiveOptions("squashfs"))
    assert "mksquashfs is not installed" in caught.value.message
    assert "squashfs-tools" in caught.value.hint


def test_good_options_pass() -> None:
    check_image_options("oci", "cowsay", ArchiveOptions("oci", arcroot="opt/app"))
    check_image_options("dir", None, None)


@pytest.mark.parametrize(
    ("fmt", "level", "message"),
    [
        ("squashfs", 23, "out of range for squashfs"),
        ("squashfs-gzip", 12, "out of range for squashfs-gzip"),
    ],
)
def test_squashfs_levels_are_checked_with_every_format(fmt: str, level: int, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        check_level(BY_NAME[fmt], level)
