"""Static verification of a tree (an export, a venv, a venv-pack output), and a quick smoke
run of its interpreter. ``export`` runs it on its result; ``check`` on anything."""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from uv_portable.binaries.elf import SO_NAME, ElfInfo, is_elf, read_elf
from uv_portable.binaries.libs import glibc_floor, tree_closure, version_str
from uv_portable.binaries.macho import (
    expand_load_path,
    is_macho,
    is_system,
    read_macho,
    verify_signatures,
)
from uv_portable.errors import RefusedError
from uv_portable.model import Finding
from uv_portable.runpath import expand_origin, is_within
from uv_portable.scripts import parse_pyvenv_cfg, pth_path_lines

# Interpreters a script may name absolutely: present on every Linux/macOS host.
SYSTEM_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/env", "/usr/bin/sh", "/usr/bin/bash")
_LONG_EXEC = re.compile(rb"^'''exec' '(/[^']+)'", re.MULTILINE)


@dataclass(frozen=True)
class TreeReport:
    """What static verification found, and the glibc each ELF file needs."""

    findings: tuple[Finding, ...]
    glibc: tuple[tuple[str, str], ...]  # (relative path, "2.34")

    @property
    def glibc_floor(self) -> str | None:
        """The newest glibc any file needs (None when no file needs one)."""
        if not self.glibc:
            return None
        return max((v for _, v in self.glibc), key=lambda v: tuple(int(p) for p in v.split(".")))

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings of severity error."""
        return tuple(f for f in self.findings if f.severity == "error")


def walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below root (relative path, entry), not following symlinks, sorted."""
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


class _Verifier:
    def __init__(self, root: Path, host_libraries: bool, build_paths: tuple[str, ...]) -> None:
        self.root = root
        self.host_libraries = host_libraries
        self.build_paths = set(build_paths)  # absolute paths of the build host, if known
        self.texts: list[tuple[str, Path]] = []  # small text files worth scanning for them
        self.top = str(root)
        self.findings: list[Finding] = []
        self.elves: dict[str, ElfInfo] = {}  # relative path -> info
        self.names: dict[str, list[str]] = {}  # file name -> relative paths (for libpython)

    def add(self, severity: str, code: str, rel: str, message: str, hint: str = "") -> None:
        self.findings.append(Finding(severity, code, rel, message, hint))

    def run(self) -> TreeReport:
        for rel, entry in walk(self.root):
            self.names.setdefault(entry.name, []).append(rel)
            if entry.is_symlink():
                self.symlink(rel, entry)
            elif entry.is_file(follow_symlinks=False):
                self.file(rel, entry)
        self.libraries()
        self.mentions()
        python = self.root / "bin" / "python"
        if not python.is_file():
            self.add(
                "error",
                "no-interpreter",
                "bin/python",
                "no Python interpreter inside the tree; the target host would need one "
                "at the very path it was built with",
                "export the venv with uv-portable, which copies the interpreter in",
            )
        glibc = []
        for rel, info in sorted(self.elves.items()):
            floor = glibc_floor(info)
            if floor is not None:
                glibc.append((rel, version_str(floor)))
        return TreeReport(tuple(self.findings), tuple(glibc))

    def symlink(self, rel: str, entry: os.DirEntry[str]) -> None:
        target = os.readlink(entry.path)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
        if target.startswith("/") or not is_within(resolved, self.top):
            self.add(
                "error",
                "symlink-escapes",
                rel,
                f"symlink to {target} leaves the tree",
                "replace it with a copy of its target (uv-portable export does)",
            )
        elif not os.path.exists(entry.path):
            self.add("error", "dangling-symlink", rel, f"symlink to {target} points to nothing")

    def file(self, rel: str, entry: os.DirEntry[str]) -> None:
        name = entry.name
        path = Path(entry.path)
        if name == "pyvenv.cfg" and "/" not in rel:
            cfg = dict(parse_pyvenv_cfg(path.read_text(errors="replace")))
            if "home" in cfg and cfg["home"].startswith("/"):
                self.build_paths.add(posixpath.dirname(cfg["home"].rstrip("/")))
            if "home" in cfg:
                self.add(
                    "error",
                    "pyvenv-home",
                    rel,
                    f"home = {cfg['home']} ties the environment to the build host",
                    "export it with `uv-portable export`, which drops home",
                )
            return
        if name.endswith(".pth") and "/site-packages/" in f"/{rel}":
            for line in pth_path_lines(path.read_text(errors="replace")):
                if line.startswith("/"):
                    self.add(
                        "error",
                        "absolute-pth",
                        rel,
                        f"adds absolute path {line} to sys.path",
                        "editable installs cannot be shipped: `uv sync --no-editable`",
                    )
            return
        if name == "direct_url.json" and rel.endswith(".dist-info/direct_url.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                return
            if isinstance(data, dict) and data.get("dir_info", {}).get("editable"):
                self.add(
                    "error",
                    "editable",
                    rel,
                    f"editable install of {data.get('url')}",
                    "reinstall it non-editable: `uv sync --no-editable`",
                )
            return
        if name.startswith("_sysconfigdata") and name.endswith(".py"):
            text = path.read_text(errors="replace")
            if "_uv_portable_relocate" not in text:
                match = re.search(r"""['"]prefix['"]\s*:\s*['"](/[^'"]*)['"]""", text)
                if match and match[1] not in ("/usr", "/usr/local"):
                    self.build_paths.add(match[1])
                if match:
                    self.add(
                        "warning",
                        "sysconfig-build-path",
                        rel,
                        f"names the build prefix {match[1]}; building extensions here "
                        "would look there",
                        "export with uv-portable, which relocates it",
                    )
            return
        mode = entry.stat(follow_symlinks=False).st_mode
        if self._worth_scanning(rel, name, entry):
            self.texts.append((rel, path))
        if (".so" in name or mode & 0o111) and is_elf(path):
            try:
                info = read_elf(path)
            except RefusedError as exc:
                self.add("error", "broken-elf", rel, exc.message)
                return
            self.elves[rel] = info
            origin = posixpath.dirname(entry.path)
            for item in info.search_path:
                expanded = expand_origin(item, origin)
                if item.startswith("/"):
                    self.add(
                        "error",
                        "abs-runpath",
                        rel,
                        f"RUNPATH/RPATH names {item}",
                        "export with uv-portable, which rewrites it to $ORIGIN",
                    )
                elif expanded is not None and not is_within(expanded, self.top):
                    self.add("warning", "runpath-escapes", rel, f"{item} points outside the tree")
            return
        if (".so" in name or ".dylib" in name or mode & 0o111) and is_macho(path):
            self.macho_file(rel, path)
            return
        if SO_NAME.search(name) and entry.stat().st_size > 0:
            self.add("warning", "not-elf", rel, "named like a shared library but not an ELF file")
            return
        if rel.startswith("bin/") and mode & 0o111:
            with open(entry.path, "rb") as fh:
                head = fh.read(1024)
            if head.startswith(b"#!"):
                command = head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0]
                interpreter = command.decode(errors="replace")
                long_form = _LONG_EXEC.search(head)
                if interpreter in ("/bin/sh", "/usr/bin/sh") and long_form:
                    interpreter = long_form[1].decode(errors="replace")
                if interpreter.startswith("/") and interpreter not in SYSTEM_INTERPRETERS:
                    self.add(
                        "error",
                        "abs-shebang",
                        rel,
                        f"runs {interpreter} by absolute path; moved, it breaks",
                        "export with uv-portable, which makes scripts relocatable",
                    )

    def macho_file(self, rel: str, path: Path) -> None:
        """Load paths must resolve inside the tree; signatures must match the pages."""
        try:
            slices = read_macho(path)
        except RefusedError as exc:
            self.add("error", "broken-macho", rel, exc.message)
            return
        origin, exe_dir = str(path.parent), f"{self.top}/bin"
        hint = "export with uv-portable, which rewrites it to @loader_path"
        for sl in slices:
            for load in sl.loads:
                if is_system(load):
                    continue
                if load.startswith("/"):
                    self.add("error", "abs-load-path", rel, f"{sl.arch} loads {load}", hint)
                elif load.startswith(("@loader_path", "@executable_path")):
                    target = expand_load_path(load, origin, exe_dir)
                    if not (is_within(target, self.top) and os.path.isfile(target)):
                        self.add(
                            "error",
                            "unresolved-dylib",
                            rel,
                            f"{sl.arch} loads {load}, which is not in the tree",
                        )
                elif load.startswith("@rpath/"):
                    found = any(
                        os.path.isfile(
                            posixpath.join(
                                expand_load_path(r, origin, exe_dir), load[len("@rpath/") :]
                            )
                        )
                        for r in sl.rpaths
                    )
                    if not found:
                        self.add(
                            "warning",
                            "unresolved-rpath",
                            rel,
                            f"{sl.arch} loads {load}; no LC_RPATH of the file finds it "
                            "(its loader's may)",
                        )
            ident = sl.install_name
            if ident and ident.startswith("/") and not is_system(ident):
                self.add(
                    "warning",
                    "abs-install-name",
                    rel,
                    f"install name {ident} is absolute (harmless unless something links "
                    "against it)",
                )
            for rpath in sl.rpaths:
                if rpath.startswith("/"):
                    self.add(
                        "warning",
                        "abs-rpath",
                        rel,
                        f"LC_RPATH {rpath} points outside the tree and never resolves there",
                    )
        for problem in verify_signatures(path):
            self.add(
                "error",
                "bad-signature",
                rel,
                f"code signature does not match: {problem}",
                "re-sign it (`codesign --force --sign -`) or re-export with uv-portable",
            )

    @staticmethod
    def _worth_scanning(rel: str, name: str, entry: os.DirEntry[str]) -> bool:
        """Small text files where a build path would matter: scripts, metadata, config."""
        if "__pycache__" in rel or entry.stat(follow_symlinks=False).st_size > 256 * 1024:
            return False
        if rel.startswith("bin/") or name.endswith((".pth", ".cfg", ".ini", ".toml")):
            return True
        return ".dist-info/" in rel and name.endswith((".json", ".txt"))

    def mentions(self) -> None:
        """Informational: text files that still name a path of the build host."""
        needles = sorted((p for p in self.build_paths if len(p) > 1), key=len, reverse=True)
        if not needles:
            return
        for rel, path in self.texts:
            try:
                text = path.read_bytes()
            except OSError:
                continue
            hit = next((n for n in needles if n.encode() in text), None)
            if hit is not None and not any(
                f.path == rel and f.severity != "info" for f in self.findings
            ):
                self.add("info", "build-path-mention", rel, f"mentions {hit} of the build host")

    def libraries(self) -> None:
        """Every needed library must come from the tree or from every host (the policy)."""
        objects = {f"{self.top}/{rel}": info for rel, info in self.elves.items()}
        closure = tree_closure(objects, os.path.isfile, self.top)
        for soname, needers in sorted(closure.unresolved.items()):
            needer = needers[0]
            if soname.startswith("libpython") and soname in self.names:
                continue  # loaded by the interpreter before any extension
            self.add(
                "warning" if self.host_libraries else "error",
                "unresolved-library",
                needer[len(self.top) + 1 :],
                f"needs {soname}, which is neither in the tree nor on every host",
                "export with uv-portable, which bundles it into lib/",
            )


def verify_tree(
    root: Path, *, host_libraries: bool = False, build_paths: tuple[str, ...] = ()
) -> TreeReport:
    """Find what would stop the tree from running elsewhere.

    ``host_libraries``: the user says the target provides libraries outside the policy
    (``--no-bundle``), so unresolved ones are warnings, not errors. ``build_paths``: absolute
    paths of the build host to look for in scripts and metadata (besides those the tree names
    itself: a pyvenv.cfg ``home``, an unrelocated ``_sysconfigdata`` prefix).
    """
    return _Verifier(root, host_libraries, build_paths).run()


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
        if entry and not is_within(os.path.realpath(entry), real):
            return f"{python} has {entry} on sys.path, outside its own folder"
    return None
