"""Static checks of a Windows tree: DLL imports resolve, launchers are relative, names are
valid on Windows, and no build path is left in pyvenv.cfg, .pth files or scripts."""

from __future__ import annotations

import ntpath
import os
import re
from pathlib import Path

from uv_portable.findings import finding
from uv_portable.model import Finding
from uv_portable.plan.scripts import parse_pyvenv_cfg, pth_path_lines
from uv_portable.windows.dlls import resolve_imports
from uv_portable.windows.launchers import LauncherError, read_launcher
from uv_portable.windows.names import check_names

# An absolute Windows path to an interpreter, as scripts would write it.
_ABS_PYTHON = re.compile(rb"(?:[A-Za-z]:|\\\\[^\\\"]+)\\[^\"\r\n<>|*?]*?\\pythonw?\.exe", re.I)


def is_windows_tree(root: Path) -> bool:
    """Whether a folder is laid out as a Windows CPython (python.exe and Lib\\ at its root)."""
    return (root / "python.exe").is_file() and (root / "Lib").is_dir()


def _files(root: Path) -> tuple[dict[str, Path], list[Finding]]:
    files: dict[str, Path] = {}
    findings: list[Finding] = []
    for folder, dirs, names in os.walk(root):
        rel_dir = os.path.relpath(folder, root)
        for name in sorted(dirs + names):
            path = Path(folder, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if path.is_symlink():
                findings.append(
                    finding(
                        "symlink",
                        rel,
                        "is a symlink, which Windows archives and users cannot rely on",
                    )
                )
            elif path.is_file():
                files[rel] = path
    return files, findings


def _launchers(files: dict[str, Path]) -> list[Finding]:
    findings: list[Finding] = []
    for rel, path in sorted(files.items()):
        if not (rel.startswith("Scripts/") and rel.lower().endswith(".exe")):
            continue
        try:
            launcher = read_launcher(path)
        except LauncherError as exc:
            findings.append(finding("unreadable-launcher", rel, str(exc)))
            continue
        if launcher is not None and not launcher.relative:
            findings.append(
                finding(
                    "absolute-launcher",
                    rel,
                    f"starts {launcher.python}, an absolute path ({launcher.kind})",
                )
            )
    return findings


def _text_leftovers(files: dict[str, Path], build_paths: tuple[str, ...]) -> list[Finding]:
    findings: list[Finding] = []
    cfg = files.get("pyvenv.cfg")
    if cfg is not None:
        home = dict(parse_pyvenv_cfg(cfg.read_text(errors="replace"))).get("home")
        if home:
            findings.append(
                finding(
                    "pyvenv-home",
                    "pyvenv.cfg",
                    f"names home = {home}: python.exe would look for the build's base there",
                )
            )
    for rel, path in sorted(files.items()):
        low = rel.lower()
        if low.startswith("lib/site-packages/") and low.endswith(".pth") and "/" not in rel[18:]:
            for entry in pth_path_lines(path.read_text(errors="replace")):
                if ntpath.isabs(entry) or entry.startswith("\\\\"):
                    findings.append(finding("absolute-pth", rel, f"adds {entry} to sys.path"))
        elif low.startswith("scripts/") and not low.endswith((".exe", ".dll", ".pyd")):
            data = path.read_bytes()
            hits = [b for b in build_paths if b.lower().encode() in data.lower()]
            match = _ABS_PYTHON.search(data)
            if hits or match:
                what = hits[0] if hits else match[0].decode(errors="replace") if match else ""
                findings.append(
                    finding(
                        "build-path-in-script",
                        rel,
                        f"names {what}, which will not exist where it is unpacked",
                    )
                )
    return findings


def verify_windows_tree(
    root: Path,
    build_paths: tuple[str, ...] = (),
    allow_missing: tuple[str, ...] = (),
    strict: bool = True,
) -> list[Finding]:
    """Every static problem of a Windows tree that would stop it working elsewhere."""
    files, findings = _files(root)
    findings += check_names(files)
    findings += resolve_imports(files, allow_missing, strict)
    findings += _launchers(files)
    findings += _text_leftovers(files, build_paths)
    return findings
