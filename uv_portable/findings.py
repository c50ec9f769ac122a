"""The catalogue of findings: every code declared once, with its severity and its hint. The
planner, the verifier and `check` all make findings through ``finding()``, so a code means the
same thing wherever it is found, and refusals match on codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from uv_portable.model import Finding, Severity

Code = Literal[
    "import-failed-unknown",
    "layer-unreadable",
    "digest-mismatch",
    "diff-id-mismatch",
    "blob-missing",
    "bad-oci",
    "bad-digest",
    "system-runpath-dropped",
    "runpath-dropped",
    "bad-signature",
    "abs-rpath",
    "abs-install-name",
    "unresolved-rpath",
    "unresolved-dylib",
    "abs-load-path",
    "abs-runpath",
    "abs-shebang",
    "absolute-launcher",
    "absolute-pth",
    "bad-manifest",
    "broken-elf",
    "broken-in-source",
    "broken-macho",
    "build-path-in-script",
    "build-path-mention",
    "case-collision",
    "dangling-symlink",
    "data-gap",
    "dll-left-to-host",
    "dylib-clash",
    "editable",
    "exec-stack",
    "file-changed",
    "file-extra",
    "file-missing",
    "glibc-too-new",
    "host-interpreter",
    "import-failed",
    "import-lost",
    "interpreter-failed",
    "interpreter-outside",
    "library-left-to-host",
    "long-path",
    "macho-in-linux",
    "macho-rewrite",
    "no-interpreter",
    "no-stdlib",
    "not-an-interpreter",
    "not-elf",
    "optional-library-absent",
    "pth-not-utf8",
    "pyc-extra",
    "pyvenv-home",
    "runpath-escapes",
    "script-interpreter-changed",
    "script-no-python",
    "script-not-python",
    "script-outside",
    "soname-clash",
    "special-file",
    "start-entry-point",
    "start-not-utf8",
    "symlink",
    "symlink-copied",
    "symlink-escapes",
    "sysconfig-build-path",
    "unreadable-launcher",
    "unreadable-pe",
    "unresolved-dll",
    "unresolved-library",
    "unsafe-member",
    "vc-runtime",
    "venv-overrides-base",
    "windows-name",
    "wrong-arch",
    "wrong-machine",
]


@dataclass(frozen=True)
class Kind:
    """What a code always is: how severe, and what the user can do about it."""

    severity: Severity
    hint: str = ""


CATALOGUE: dict[str, Kind] = {
    "import-failed-unknown": Kind(
        "info", "no manifest to compare with: the source may fail the same way"
    ),
    "layer-unreadable": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "digest-mismatch": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "diff-id-mismatch": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "blob-missing": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "bad-oci": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "bad-digest": Kind(
        "error", "the image was changed after it was made: copy it again, or re-export it"
    ),
    "system-runpath-dropped": Kind("info"),
    "runpath-dropped": Kind("warning"),
    "bad-signature": Kind(
        "error",
        "re-sign it (`codesign --force --sign -`) or re-export with uv-portable",
    ),
    "abs-rpath": Kind("warning"),
    "abs-install-name": Kind("warning"),
    "unresolved-rpath": Kind("warning"),
    "unresolved-dylib": Kind("error"),
    "abs-load-path": Kind("error", "export with uv-portable, which rewrites it to @loader_path"),
    "abs-runpath": Kind("error", "export with uv-portable, which rewrites it to $ORIGIN"),
    "abs-shebang": Kind("error", "export with uv-portable, which makes scripts relocatable"),
    "absolute-launcher": Kind("error", "export the venv with uv-portable"),
    "absolute-pth": Kind(
        "error",
        "install that code into the venv non-editable (`uv sync --no-editable`), or remove "
        "the .pth",
    ),
    "bad-manifest": Kind("error", "re-export it"),
    "broken-elf": Kind("error"),
    "broken-in-source": Kind(
        "warning",
        "an optional extra or backend that is not installed; install it if you need it",
    ),
    "broken-macho": Kind("error"),
    "build-path-in-script": Kind(
        "warning",
        "regenerate the venv with `uv venv --relocatable`, or export it with uv-portable",
    ),
    "build-path-mention": Kind("info"),
    "case-collision": Kind("error"),
    "dangling-symlink": Kind("warning"),
    "data-gap": Kind("warning"),
    "dll-left-to-host": Kind("warning"),
    "dylib-clash": Kind("error", "rename one of the two libraries"),
    "editable": Kind(
        "error",
        "reinstall it non-editable (`uv sync --no-editable`) and keep it so: every `uv run` "
        "makes it editable again unless UV_NO_EDITABLE=1 is set; or let `uv-portable build` "
        "make a fresh environment of the project",
    ),
    "exec-stack": Kind(
        "warning",
        "ask its maintainers to link with -z noexecstack; `patchelf --clear-execstack` "
        "clears the flag",
    ),
    "file-changed": Kind("error"),
    "file-extra": Kind("error"),
    "file-missing": Kind("error"),
    "glibc-too-new": Kind(
        "error",
        "use a uv-managed Python, which needs only glibc 2.17 (`uv python install 3.12`, "
        "then `uv venv --python-preference only-managed`), build on an older system, or "
        "raise --target-glibc",
    ),
    "host-interpreter": Kind("info"),
    "import-failed": Kind("error", "a missing library or extension: re-export with uv-portable"),
    "import-lost": Kind("error", "report this to uv-portable with the venv's details"),
    "interpreter-failed": Kind("error"),
    "interpreter-outside": Kind("error", "the environment leans on the build host; report it"),
    "library-left-to-host": Kind("warning"),
    "long-path": Kind("warning", "unpack it close to the drive's root, or enable long paths"),
    "macho-in-linux": Kind("error"),
    "macho-rewrite": Kind("error"),
    "no-interpreter": Kind("error"),
    "no-stdlib": Kind("error"),
    "not-an-interpreter": Kind("error"),
    "not-elf": Kind("error", "remove it from the venv, or leave it out with --exclude"),
    "optional-library-absent": Kind("warning"),
    "pth-not-utf8": Kind("warning", "ask its maintainers to write .pth files as UTF-8 (PEP 829)"),
    "pyc-extra": Kind("info"),
    "pyvenv-home": Kind("error", "export it with `uv-portable export`, which drops home"),
    "runpath-escapes": Kind("warning"),
    "script-interpreter-changed": Kind(
        "error",
        "report this to uv-portable with the script's first lines",
    ),
    "script-no-python": Kind("error", "export with uv-portable, which copies the interpreter in"),
    "script-not-python": Kind(
        "error",
        "export with uv-portable, which keeps such a script's shebang",
    ),
    "script-outside": Kind("error", "report this to uv-portable with the script's first lines"),
    "soname-clash": Kind(
        "error",
        "remove one of the two libraries, or rebuild both against the same one",
    ),
    "special-file": Kind("warning"),
    "start-entry-point": Kind("warning", "ask its maintainers to fix the .start file (PEP 829)"),
    "start-not-utf8": Kind(
        "warning",
        "ask its maintainers to write .start files as UTF-8 (PEP 829)",
    ),
    "symlink": Kind("error", "export again with uv-portable"),
    "symlink-copied": Kind("info"),
    "symlink-escapes": Kind(
        "error",
        "replace it with a copy of its target (uv-portable export does)",
    ),
    "sysconfig-build-path": Kind("warning", "export with uv-portable, which relocates it"),
    "unreadable-launcher": Kind("error", "reinstall its package with `uv pip install --reinstall`"),
    "unreadable-pe": Kind("error", "reinstall the package that ships it"),
    "unresolved-dll": Kind("error"),
    "unresolved-library": Kind("error"),
    "unsafe-member": Kind("error", "rebuild the archive with uv-portable"),
    "vc-runtime": Kind("warning", "install the VC++ Redistributable on targets"),
    "venv-overrides-base": Kind("info"),
    "windows-name": Kind("error"),
    "wrong-arch": Kind("error"),
    "wrong-machine": Kind("error", "install the win_amd64 build of its package"),
}


def finding(
    code: Code, path: str, message: str, hint: str | None = None, subject: str = ""
) -> Finding:
    """A finding of a catalogued code; ``hint`` only where it names this case's own values."""
    kind = CATALOGUE[code]
    return Finding(kind.severity, code, path, message, kind.hint if hint is None else hint, subject)
