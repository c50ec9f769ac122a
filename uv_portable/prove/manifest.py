"""The manifest every export carries (share/uv-portable/manifest.json): what was shipped, from
where, and what the source could import, so that ``check`` can prove it later. Deterministic:
two exports of the same venv write the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv_portable import __version__
from uv_portable.findings import finding
from uv_portable.interrupts import ThreadPool
from uv_portable.model import Finding, Plan
from uv_portable.prove.ospkg import os_packages
from uv_portable.prove.static import walk
from uv_portable.publish.output import MANIFEST_PATH
from uv_portable.source.venv import base_kind

SBOM_PATH = "share/uv-portable/sbom.cdx.json"
FORMAT = 1
_OWN = frozenset({MANIFEST_PATH, SBOM_PATH})
_HINT_TAMPER = "the export was changed after it was made: copy it again, or re-export it"


class ManifestError(Exception):
    """A manifest that cannot be used (not JSON, or from a newer uv-portable)."""


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class TreeFiles:
    """Every file of a tree: regular files with size, mode and hash; links with targets."""

    files: dict[str, dict[str, Any]]
    dir_links: dict[str, str]


def hash_tree(root: Path) -> TreeFiles:
    """Describe every file below root (the manifest's own files aside), hashing in parallel."""
    regular: list[tuple[str, os.stat_result]] = []
    links: dict[str, str] = {}
    dir_links: dict[str, str] = {}
    for rel, entry in walk(root):
        if rel in _OWN or entry.is_dir(follow_symlinks=False):
            continue
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(entry.path)
            (dir_links if os.path.isdir(entry.path) else links)[rel] = target
        elif stat.S_ISREG(st.st_mode):
            regular.append((rel, st))
    with ThreadPool(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        digests = pool.map(lambda item: sha256_of(root / item[0]), regular)
        files: dict[str, dict[str, Any]] = {
            rel: {"size": st.st_size, "mode": f"{stat.S_IMODE(st.st_mode):04o}", "sha256": d}
            for (rel, st), d in zip(regular, digests)
        }
    for rel, target in links.items():
        files[rel] = {"link": target}
    return TreeFiles(dict(sorted(files.items())), dict(sorted(dir_links.items())))


def dumps(document: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, fixed separators, a final newline."""
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_document(root: Path, rel: str, document: dict[str, Any]) -> None:
    """Write a JSON document into the tree (its folder made as needed)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps(document))
    os.chmod(path, 0o644)


@dataclass(frozen=True)
class Manifest:
    """A manifest as read back by ``check``."""

    data: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Relative path -> its entry."""
        files: dict[str, dict[str, Any]] = self.data.get("files", {})
        return files

    @property
    def baseline(self) -> tuple[str, ...] | None:
        """Modules that imported in the source venv (None when export did not verify)."""
        imports = self.data.get("imports")
        if not isinstance(imports, dict):
            return None
        return tuple(imports.get("baseline", ()))

    @property
    def broken_in_source(self) -> dict[str, str]:
        """Modules that failed in the source venv too, with why."""
        imports = self.data.get("imports")
        return dict(imports.get("broken_in_source", {})) if isinstance(imports, dict) else {}

    @property
    def tolerated_libraries(self) -> dict[str, dict[str, Any]]:
        """soname -> the missing-library record the export accepted."""
        return {m["soname"]: m for m in self.data.get("missing_libraries", [])}


def load_manifest(root: Path) -> Manifest | None:
    """The tree's manifest, None when it has none; ManifestError when it is unusable."""
    path = root / MANIFEST_PATH
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{MANIFEST_PATH} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("format"), int):
        raise ManifestError(f"{MANIFEST_PATH} is not a uv-portable manifest")
    if data["format"] > FORMAT:
        writer = data.get("tool", {}).get("version", "?")
        raise ManifestError(
            f"{MANIFEST_PATH} was written by uv-portable {writer} (format {data['format']}), "
            f"newer than this uv-portable {__version__} understands; upgrade uv-portable"
        )
    return Manifest(data)


def compare_files(root: Path, manifest: Manifest) -> list[Finding]:
    """Changed, missing and extra files against the manifest (corruption or tampering).

    A link may arrive as a regular file (archives hold no symlinks): then its content must be
    that of its target. Bytecode written later by the interpreter is information only.
    """
    expected = manifest.files
    actual = hash_tree(root)
    findings: list[Finding] = []
    for rel, entry in expected.items():
        found = actual.files.get(rel)
        if found is None:
            findings.append(
                finding("file-missing", rel, "is in the manifest but missing", hint=_HINT_TAMPER)
            )
            continue
        want = entry
        if "link" in entry:
            if found.get("link") == entry["link"]:
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(rel), entry["link"]))
            want = expected.get(target, entry)
        if "link" in found or found.get("sha256") != want.get("sha256"):
            findings.append(
                finding("file-changed", rel, "differs from the manifest", hint=_HINT_TAMPER)
            )
    dir_links = manifest.data.get("dir_links", {})
    for rel in sorted(set(actual.files) - set(expected)):
        if "__pycache__/" in rel and rel.endswith(".pyc"):
            findings.append(finding("pyc-extra", rel, "bytecode written after export"))
        elif not any(rel == d or rel.startswith(d + "/") for d in dir_links):
            findings.append(finding("file-extra", rel, "is not in the manifest", hint=_HINT_TAMPER))
    return findings


def _build_os() -> str:
    """The build host's distribution id (/etc/os-release ID), for OS package purls."""
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("ID="):
            return line[3:].strip().strip('"')
    return ""


def _bundled(root: Path, plan: Plan) -> list[dict[str, Any]]:
    packages = os_packages([path for _, path in plan.bundled])
    out = []
    for soname, path in sorted(plan.bundled):
        entry: dict[str, Any] = {
            "soname": soname,
            "from": path,
            "sha256": sha256_of(root / "lib" / soname),
        }
        package = packages.get(path)
        if package is not None:
            entry["os_package"] = {
                "manager": package.manager,
                "name": package.name,
                "version": package.version,
            }
        out.append(entry)
    return out


@dataclass(frozen=True)
class ExportFacts:
    """What an export learned beyond its plan: verification results and the options."""

    options: dict[str, Any]
    host_requirements: tuple[str, ...] = ()
    imports: dict[str, Any] | None = None  # ImportBaseline.to_json(), None without --verify


def build_manifest(root: Path, plan: Plan, facts: ExportFacts) -> dict[str, Any]:
    """The manifest of the finished tree at root (hashes every file)."""
    base = plan.source.base
    tree = hash_tree(root)
    floor = plan.glibc_floor
    return {
        "format": FORMAT,
        "tool": {"name": "uv-portable", "version": __version__},
        "options": facts.options,
        "interpreter": {
            "implementation": base.implementation,
            "version": base.version_str,
            "kind": base_kind(base),
            "libpython": "shared"
            if base.platform == "windows" or any(root.glob("lib/libpython3*"))
            else "static",
        },
        "platform": {
            "os": base.platform,
            "glibc_floor": str(floor) if floor else None,
            "symbol_versions": plan.symbol_versions_json(),
            "build_os": _build_os(),
        },
        "distributions": [
            {
                "name": d.name,
                "canonical_name": d.canonical_name,
                "version": d.version,
                "import_names": list(d.top_level),
            }
            for d in plan.distributions
        ],
        "bundled_libraries": _bundled(root, plan),
        "missing_libraries": [m.to_json() for m in plan.missing],
        "host_requirements": list(facts.host_requirements),
        "data_gaps": list(plan.data_gaps),
        "imports": facts.imports,
        "files": tree.files,
        "dir_links": tree.dir_links,
    }
