"""The options `export` and `build` share, declared once for typer.

No `from __future__ import annotations` here: typer reads these annotations at run time.
Optional[...] because typer needs it on Python 3.9.
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

Force = Annotated[
    bool,
    typer.Option("--force", help="Replace an output that is a file or an earlier export."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check everything and print the plan; write nothing.")
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and the requested output.")
]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also print each external command it runs.")
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Hide progress bars.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NoVerify = Annotated[bool, typer.Option("--no-verify", help="Skip the check of the result.")]
Format = Annotated[
    Optional[str],
    typer.Option(
        "--format",
        metavar="FMT",
        help="dir, tar, tar.gz, tgz, tar.zst, zip, oci, oci.tar, squashfs or squashfs-gzip; "
        "must agree with the output's name (default: from the name).",
    ),
]
Level = Annotated[
    Optional[int],
    typer.Option(
        "--level",
        metavar="N",
        help="Compression level: tar.gz and zip 0-9, tar.zst 1-22 (default: 3, 6 for zip).",
    ),
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
    typer.Option(
        "--keep-tests/--no-keep-tests",
        help="Keep the standard library's tests (default: no).",
        show_default=False,
    ),
]
KeepConfig = Annotated[
    Optional[bool],
    typer.Option(
        "--keep-config/--no-keep-config",
        help="Keep the static libpython in lib/pythonX.Y/config-*/, for embedding (default: no).",
        show_default=False,
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
    typer.Option(
        "--bundle/--no-bundle",
        help="Copy in shared libraries the target may lack (default: yes).",
        show_default=False,
    ),
]
Compile = Annotated[
    Optional[bool],
    typer.Option(
        "--compile/--no-compile",
        help="Compile every .py to bytecode that stays valid in archives (default: yes).",
        show_default=False,
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
        help="unchecked-hash, or checked-hash for sources edited on the target "
        "(default: unchecked-hash).",
    ),
]
Entrypoint = Annotated[
    Optional[str],
    typer.Option(
        "--entrypoint",
        metavar="NAME",
        help="OCI images: run this console script of bin/ as the image's entrypoint.",
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
Sandbox = Annotated[
    Optional[str],
    typer.Option(
        "--sandbox",
        metavar="KIND",
        help="Isolation of the verifying run: auto (bwrap, else unshare as root, else none), "
        "bwrap, unshare or none (default: auto).",
        show_default=False,
    ),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        envvar="UV_PORTABLE_CACHE_DIR",
        help="Cache folder for pycs and import baselines (default: ~/.cache/uv-portable).",
        show_default=False,
    ),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]
Output = Annotated[
    Optional[Path],
    typer.Option(
        "--output", "-o", metavar="PATH", help="Output folder or archive (overrides the config)."
    ),
]
PythonRequest = Annotated[
    Optional[str],
    typer.Option("--python", metavar="VERSION", help="Python version request passed to uv."),
]
Group = Annotated[
    Optional[list[str]],
    typer.Option("--group", metavar="GROUP", help="Include this dependency group (repeatable)."),
]
Extra = Annotated[
    Optional[list[str]],
    typer.Option("--extra", metavar="EXTRA", help="Include this extra (repeatable)."),
]
