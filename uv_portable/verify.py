"""Static verification of an exported tree, and a quick smoke run of its interpreter."""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
from collections.abc import Iterator
from pathlib import Path

from uv_portable.binaries.elf import is_elf, read_elf
from uv_portable.errors import RefusedError
from uv_portable.model import Finding
from uv_portable.runpath import expand_origin
from uv_portable.scripts import parse_pyvenv_cfg, pth_path_lines

# Interpreters a script may name absolutely: present on every Linux/macOS host.
SYSTEM_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/env", "/usr/bin/sh", "/usr/bin/bash")


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    stack = [("", str(root))]
    while stack:
        rel, path = stack.pop()
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            entry_rel = f"{rel}/{entry.name}" if rel else entry.name
            yield entry_rel, entry
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry_rel, entry.path))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def verify_tree(root: Path) -> list[Finding]:
    """Find what would stop the tree from running elsewhere."""
    findings: list[Finding] = []
    top = str(root)

    def add(severity: str, code: str, rel: str, message: str, hint: str = "") -> None:
        findings.append(Finding(severity, code, rel, message, hint))

    for rel, entry in _walk(root):
        if entry.is_symlink():
            target = os.readlink(entry.path)
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
            if target.startswith("/") or not _inside(resolved, top):
                add(
                    "error",
                    "symlink-escapes",
                    rel,
                    f"symlink to {target} leaves the tree",
                    "replace it with a copy of its target",
                )
            elif not os.path.exists(entry.path):
                add("error", "dangling-symlink", rel, f"symlink to {target} points to nothing")
            continue
        if not entry.is_file():
            continue
        name = entry.name
        if name == "pyvenv.cfg" and "/" not in rel:
            cfg = dict(parse_pyvenv_cfg(Path(entry.path).read_text(errors="replace")))
            if "home" in cfg:
                add(
                    "error",
                    "pyvenv-home",
                    rel,
                    f"home = {cfg['home']} ties it to the build host",
                    "export the venv with `uv-portable export`",
                )
            continue
        if name.endswith(".pth") and "/site-packages/" in f"/{rel}":
            text = Path(entry.path).read_text(errors="replace")
            for line in pth_path_lines(text):
                if line.startswith("/"):
                    add(
                        "error",
                        "absolute-pth",
                        rel,
                        f"adds absolute path {line} to sys.path",
                        "editable installs cannot be shipped: `uv sync --no-editable`",
                    )
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if (".so" in name or mode & 0o111) and is_elf(Path(entry.path)):
            try:
                info = read_elf(Path(entry.path))
            except RefusedError as exc:
                add("error", "broken-elf", rel, exc.message)
                continue
            origin = posixpath.dirname(entry.path)
            for item in info.search_path:
                expanded = expand_origin(item, origin)
                if item.startswith("/"):
                    add(
                        "error",
                        "abs-runpath",
                        rel,
                        f"RUNPATH/RPATH names {item}",
                        "re-export with uv-portable, which rewrites it to $ORIGIN",
                    )
                elif expanded is not None and not _inside(expanded, top):
                    add("warning", "runpath-escapes", rel, f"{item} points outside the tree")
            continue
        if rel.startswith("bin/") and mode & 0o111:
            with open(entry.path, "rb") as fh:
                head = fh.read(256)
            if head.startswith(b"#!"):
                command = (
                    head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0].decode(errors="replace")
                )
                if command.startswith("/") and command not in SYSTEM_INTERPRETERS:
                    add(
                        "error",
                        "abs-shebang",
                        rel,
                        f"shebang names {command}",
                        "re-export with uv-portable, which makes scripts relocatable",
                    )
    python = root / "bin" / "python"
    if not python.is_file():
        add(
            "error",
            "no-interpreter",
            "bin/python",
            "no Python interpreter inside the tree; the target host would need one",
            "export with uv-portable, which copies the interpreter in",
        )
    return findings


_PROBE = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.path]))"


def smoke_run(root: Path) -> str | None:
    """Start the tree's interpreter in place; return an error text, or None when it is fine."""
    python = root / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [str(python), "-B", "-c", _PROBE],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    except OSError as exc:
        return f"cannot start {python}: {exc.strerror}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"{python} failed to start: {lines[-1] if lines else proc.returncode}"
    prefix, base_prefix, path = json.loads(proc.stdout)
    real = os.path.realpath(root)
    for value in (prefix, base_prefix):
        if os.path.realpath(value) != real:
            return f"{python} reports sys.prefix {value}, not its own folder {real}"
    for entry in path:
        if entry and not _inside(os.path.realpath(entry), real):
            return f"{python} has {entry} on sys.path, outside its own folder"
    return None
