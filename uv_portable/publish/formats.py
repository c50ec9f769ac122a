"""The output formats as data: names, suffixes and compression levels, and the one function that
decides an output's format from its name and an explicit choice. Light: `config --check` uses it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Format:
    """One output format."""

    name: str
    suffixes: tuple[str, ...]  # lower-case name endings that imply it ("" for a folder)
    levels: tuple[int, int] | None = None  # the compression levels it accepts, None: none
    default_level: int | None = None
    aliases: tuple[str, ...] = ()  # other names accepted for --format / `format`


# gzip level 3 (zlib-ng): within 7% of `gzip -6` in size at about 1.5x its speed (see
# docs/benchmarks.md); zstd's own default; zip is written by the single-threaded zlib.
FORMATS: tuple[Format, ...] = (
    Format("dir", ()),
    Format("tar", (".tar",)),
    Format("tar.gz", (".tar.gz", ".tgz"), (0, 9), 3, aliases=("tgz",)),
    Format("tar.zst", (".tar.zst", ".tzst"), (1, 22), 3),
    Format("zip", (".zip",), (0, 9), 6),
    # Read-only images: an OCI image layout (a folder, or a tar of it), whose one layer is
    # the export's tar.gz; SquashFS by mksquashfs. mksquashfs's own defaults (zstd 15, gzip 9)
    # took 35 s and 41 s for a 190 MB export here, zstd 3 and gzip 6 1.4 s and 11 s, 15% and
    # 1% larger.
    Format("oci", (".oci",), (0, 9), 3),
    Format("oci.tar", (".oci.tar",), (0, 9), 3),
    Format("squashfs", (".sqfs", ".squashfs"), (1, 22), 3),
    Format("squashfs-gzip", (".sqfs", ".squashfs"), (1, 9), 6),
)
BY_NAME = {name: f for f in FORMATS for name in (f.name, *f.aliases)}
FORMAT_NAMES = tuple(BY_NAME)  # what `--format` and `format` accept
# Suffixes that look like an archive we do not write: refuse instead of making a folder.
UNSUPPORTED = (
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".7z",
    ".rar",
    ".gz",
    ".zst",
    ".bz2",
    ".xz",
    ".whl",
)


class FormatError(ValueError):
    """An output name, format or level that do not go together: message and hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _supported() -> str:
    return ", ".join(s for f in FORMATS for s in f.suffixes)


def format_of_name(path: Path) -> Format | None:
    """The format an output name implies by its suffix (None: no archive suffix, a folder);
    FormatError for an archive suffix we do not write."""
    name = path.name.lower()
    matches = [(len(s), f) for f in FORMATS for s in f.suffixes if name.endswith(s)]
    if matches:
        return max(matches, key=lambda m: m[0])[1]
    for suffix in UNSUPPORTED:
        if name.endswith(suffix):
            raise FormatError(
                f"unsupported archive type {suffix!r} for {path}",
                f"use {_supported()} (or a folder name)",
            )
    return None


def resolve_format(path: Path, explicit: str | None = None) -> Format:
    """The format of an output: its suffix, or `explicit` (--format / `format`); the two must
    agree, because unpackers (Spark's among them) choose by the suffix."""
    implied = format_of_name(path)
    if explicit is None:
        return implied or BY_NAME["dir"]
    chosen = BY_NAME.get(explicit)
    if chosen is None:
        raise FormatError(f"unknown format {explicit!r}", "use one of: " + ", ".join(FORMAT_NAMES))
    if implied is not None and implied is not chosen and implied.suffixes != chosen.suffixes:
        raise FormatError(
            f"format {chosen.name} contradicts the name {path.name} (a {implied.name} name)",
            f"name the output for its format (e.g. {path.name.split('.')[0]}"
            f"{chosen.suffixes[0] if chosen.suffixes else ''}), or drop the format",
        )
    return chosen


def check_level(fmt: Format, level: int | None) -> None:
    """FormatError when a compression level does not fit the format."""
    if level is None or fmt.levels is None:  # folders and plain tars do not compress
        return
    low, high = fmt.levels
    if not low <= level <= high:
        raise FormatError(
            f"compression level {level} is out of range for {fmt.name}",
            f"use a level from {low} to {high}",
        )
