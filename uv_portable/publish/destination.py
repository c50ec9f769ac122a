"""The one output interface: where and how an export is written. Validated before any work
(the same checks for --dry-run and for a real export), then published atomically as a folder or
an archive."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from uv_portable.errors import UsageError
from uv_portable.progress import ProgressFactory, progress_bar
from uv_portable.publish.archive import ArchiveSummary, write_archive
from uv_portable.publish.oci import write_oci
from uv_portable.publish.output import check_output_location, publish, remove_stale
from uv_portable.publish.squashfs import check_squashfs_options, write_squashfs
from uv_portable.settings import ArchiveOptions, Settings


@dataclass(frozen=True)
class Destination:
    """A validated output: its path, its format, and how to write it."""

    path: Path
    format: str
    archive: ArchiveOptions | None  # None: a folder
    force: bool = False
    warnings: tuple[str, ...] = ()  # about the format for where the export will run

    @classmethod
    def of(cls, src: Path, out: Path, settings: Settings, *, force: bool = False) -> Destination:
        """Check an output for an export of src: name and format agree, the settings that depend
        on the format fit it, the location is usable (its missing folders can be made, it does
        not overlap the source, --force replaces only what this tool made). Writes nothing."""
        path = Path(os.path.abspath(out))
        fmt = settings.format_for(path)
        warnings = settings.format_warnings(fmt)
        archive = settings.archive(fmt)
        check_image_options(fmt, settings.entrypoint, archive)
        check_output_location(src, path, force=force, fmt=fmt, make_parent=True)
        return cls(path, fmt, archive, force, warnings)

    def prepare(self) -> int:
        """Create the output's folder (as `uv build -o` does) and remove what killed exports
        left there; how many leftovers were removed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return remove_stale(self.path.parent)

    def publish(
        self, root: Path, progress: ProgressFactory | None, total: int
    ) -> ArchiveSummary | None:
        """Move the finished tree into place, or write it as the archive; atomic either way."""
        if self.archive is None:
            publish(root, self.path, force=self.force)
            return None
        archive, fmt = self.archive, self.archive.format
        if fmt in ("squashfs", "squashfs-gzip"):
            return ArchiveSummary(write_squashfs(root, self.path, archive, replace=self.force))
        with progress_bar(progress, f"writing {self.path.name}", total) as advance:
            if fmt in ("oci", "oci.tar"):
                size = write_oci(root, self.path, archive, advance, replace=self.force)
                return ArchiveSummary(size)
            return write_archive(root, self.path, archive, advance, replace=self.force)

    def describe(self) -> str:
        """One line for plans: the output and its format."""
        return f"{self.path} ({'folder' if self.format == 'dir' else self.format})"


def check_image_options(fmt: str, entrypoint: str | None, options: ArchiveOptions | None) -> None:
    """Refuse, before any work, what an output format cannot do or lacks a tool for."""
    if entrypoint is not None:
        if fmt not in ("oci", "oci.tar"):
            raise UsageError(
                f"--entrypoint names an image's command; {fmt} has none",
                "use --format oci (or an .oci output), or drop --entrypoint",
            )
        if not entrypoint or "/" in entrypoint or entrypoint in (".", ".."):
            raise UsageError(
                f"--entrypoint {entrypoint!r} is not the name of a console script",
                "give the name of a script in the export's bin/, such as `cowsay`",
            )
    if fmt in ("squashfs", "squashfs-gzip") and options is not None:
        check_squashfs_options(options)
