"""The options `export` and `build` share, declared once for typer.

No `from __future__ import annotations` here: typer reads these annotations at run time.
Optional[...] because typer needs it on Python 3.9.
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

Force = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NoVerify = Annotated[bool, typer.Option("--no-verify", help="Skip the check of the result.")]
Format = Annotated[
    Optional[str],
    typer.Option(
        "--format", metavar="FMT", help="dir, tar, tar.gz, tgz, tar.zst or zip (default: from OUT)."
    ),
]
Level = Annotated[
    Optional[int],
    typer.Option("--level", metavar="N", help="Compression level (gzip/zip 0-9, zstd 1-22)."),
]
Threads = Annotated[
    Optional[int],
    typer.Option("--threads", metavar="N", help="Compression threads (default: all cores)."),
]
Arcroot = Annotated[
    Optional[str],
    typer.Option("--arcroot", metavar="NAME", help="Put the archive's members under this folder."),
]
KeepTests = Annotated[
    Optional[bool],
    typer.Option("--keep-tests/--no-keep-tests", help="Keep the standard library's tests."),
]
KeepConfig = Annotated[
    Optional[bool],
    typer.Option(
        "--keep-config/--no-keep-config",
        help="Keep the static libpython in lib/pythonX.Y/config-*/ (for embedding).",
    ),
]
Exclude = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude", metavar="GLOB", help="Leave out output paths matching this glob (repeatable)."
    ),
]
TargetGlibc = Annotated[
    Optional[str],
    typer.Option(
        "--target-glibc",
        metavar="VERSION",
        help='Refuse files needing a newer glibc ("2.28", "manylinux2014").',
    ),
]
AllowMissing = Annotated[
    Optional[list[str]],
    typer.Option(
        "--allow-missing", metavar="LIB", help="A library the target host provides (repeatable)."
    ),
]
Bundle = Annotated[
    Optional[bool],
    typer.Option("--bundle/--no-bundle", help="Copy in shared libraries the target may lack."),
]
Compile = Annotated[
    Optional[bool],
    typer.Option(
        "--compile/--no-compile",
        help="Compile every .py to bytecode that stays valid in archives (default: on).",
    ),
]
CompileTests = Annotated[
    Optional[bool],
    typer.Option(
        "--compile-tests/--no-compile-tests",
        help="Also compile the .py files in packages' test folders (default: off).",
    ),
]
InvalidationMode = Annotated[
    Optional[str],
    typer.Option(
        "--invalidation-mode",
        metavar="MODE",
        help="unchecked-hash (default) or checked-hash (for sources edited on the target).",
    ),
]
Sbom = Annotated[
    Optional[Path],
    typer.Option(
        "--sbom",
        metavar="PATH",
        help="Also write the CycloneDX SBOM here (it is always in the tree).",
    ),
]
Base = Annotated[
    Optional[Path],
    typer.Option(
        "--base", metavar="PATH", help="A Windows venv's base CPython folder, as seen from here."
    ),
]
Target = Annotated[
    Optional[str],
    typer.Option(
        "--target", metavar="NAME", help="Use [tool.uv-portable.targets.NAME] of the config."
    ),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        envvar="UV_PORTABLE_CACHE_DIR",
        help="Cache folder for pycs and import baselines (default: ~/.cache/uv-portable).",
    ),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
