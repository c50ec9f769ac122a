"""Static verification of a tree (an export, a venv, a venv-pack output), and a quick smoke
run of its interpreter. ``export`` runs it on its result; ``check`` on anything."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.compat import (
    Arch,
    arch_finding,
    exec_stack_finding,
    macho_in_linux_finding,
)
from uv_portable.binaries.elf import SO_NAME, ElfInfo, is_elf, read_elf
from uv_portable.binaries.libs import tree_closure
from uv_portable.binaries.macho import (
    is_macho,
)
from uv_portable.binaries.policy import host_requirement, unresolved_finding
from uv_portable.findings import Code, finding
from uv_portable.glibc_version import GlibcVersion, floor_of
from uv_portable.model import Finding
from uv_portable.plan.scripts import (
    PYTHON_NAME,
    parse_pyvenv_cfg,
    parse_shebang,
    pth_path_lines,
    sysconfig_prefix,
)
from uv_portable.prove.glibc import highest_symbol_versions, needed_glibc
from uv_portable.prove.static_macho import macho_findings
from uv_portable.runpath import expand_origin, is_within
from uv_portable.source.distributions import editable_url, owners, read_distributions
from uv_portable.source.startup import startup_findings

# Interpreters a script may name absolutely: present on every Linux/macOS host.
SYSTEM_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/env", "/usr/bin/sh", "/usr/bin/bash")


@dataclass(frozen=True)
class TreeReport:
    """What static verification found, the glibc each ELF file needs, and what the tree
    needs from the target host by policy ("tkinter needs libX11.so.6 from the host")."""

    findings: tuple[Finding, ...]
    glibc: tuple[tuple[str, GlibcVersion], ...]  # per ELF file
    host_requirements: tuple[str, ...] = ()
    # the highest GLIBC_ and GLIBCXX_ versions and a file needing each (family, version, path)
    symbol_versions: tuple[tuple[str, str, str], ...] = ()

    @property
    def glibc_floor(self) -> GlibcVersion | None:
        """The newest glibc any file needs (None when no file needs one)."""
        return floor_of(v for _, v in self.glibc)

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
    def __init__(
        self,
        root: Path,
        host_libraries: bool,
        build_paths: tuple[str, ...],
        tolerated: frozenset[str],
        exporting: bool,
    ) -> None:
        self.root = root
        self.host_libraries = host_libraries
        self.tolerated = tolerated
        self.exporting = exporting
        self.build_paths = set(build_paths)  # absolute paths of the build host, if known
        self.texts: list[tuple[str, Path]] = []  # small text files worth scanning for them
        self.top = str(root)
        self.findings: list[Finding] = []
        self.elves: dict[str, ElfInfo] = {}  # relative path -> info
        self.names: dict[str, list[str]] = {}  # file name -> relative paths (for libpython)
        self.machos: list[str] = []  # relative paths of Mach-O files

    def add(self, code: Code, rel: str, message: str, hint: str | None = None) -> None:
        self.findings.append(finding(code, rel, message, hint))

    def run(self) -> TreeReport:
        for rel, entry in walk(self.root):
            self.names.setdefault(entry.name, []).append(rel)
            if entry.is_symlink():
                self.symlink(rel, entry)
            elif entry.is_file(follow_symlinks=False):
                self.file(rel, entry)
        self.binaries()
        self.libraries()
        self.mentions()
        self.interpreter()
        glibc = []
        for rel, info in sorted(self.elves.items()):
            floor = needed_glibc(info)
            if floor is not None:
                glibc.append((rel, floor))
        symbols = highest_symbol_versions({r: i.version_needs for r, i in self.elves.items()})
        return TreeReport(tuple(self.findings), tuple(glibc), self.requirements(), symbols)

    def interpreter(self) -> None:
        """bin/python must be a native executable, with a standard library beside it."""
        python = self.root / "bin" / "python"
        hint = "export the venv with uv-portable, which copies the interpreter in"
        if not python.is_file():
            self.add(
                "no-interpreter",
                "bin/python",
                "no Python interpreter inside the tree; the target host would need one "
                "at the very path it was built with",
                hint=hint,
            )
            return
        if not (is_elf(python) or is_macho(python)):
            self.add(
                "not-an-interpreter",
                "bin/python",
                "is not an executable for Linux or macOS (neither ELF nor Mach-O)",
                hint="the tree is damaged or not a Python environment; " + hint,
            )
        if not any(self.root.glob("lib/python3*/os.py")):
            self.add(
                "no-stdlib",
                "lib",
                "has no standard library (lib/python3.X/os.py): the interpreter cannot start",
                hint=hint,
            )

    def _arch(self) -> Arch | None:
        """The ELF class and machine of the tree's own interpreter (None: not ELF, or outside)."""
        python = self.root / "bin" / "python"
        real = os.path.realpath(python)
        if not (is_within(real, os.path.realpath(self.top)) and is_elf(python)):
            return None
        try:
            return Arch.of(read_elf(python))
        except BinaryFormatError:
            return None

    def _owners(self) -> dict[str, str]:
        """Tree-relative path -> the distribution that installed it."""
        found: dict[str, str] = {}
        for site in sorted(self.root.glob("lib/python3*/site-packages")):
            prefix = site.relative_to(self.root).as_posix()
            for path, name in owners(read_distributions(site)).items():
                found[f"{prefix}/{path}"] = name
        return found

    def binaries(self) -> None:
        """In a Linux tree, every ELF file must be the interpreter's class and machine and no
        file may be Mach-O; an executable stack is reported (by the export's plan, when
        exporting)."""
        want = self._arch()
        wrong = sorted(r for r, i in self.elves.items() if want is not None and Arch.of(i) != want)
        stacks = [] if self.exporting else [r for r, i in self.elves.items() if i.exec_stack]
        machos = self.machos if want is not None else []
        if not (wrong or stacks or machos):
            return
        owned = self._owners()
        for rel in wrong:
            info = self.elves.pop(rel)  # another machine's needs: not resolvable here
            finding = arch_finding(rel, info, want, owned.get(rel, "")) if want else None
            if finding is not None:
                self.findings.append(finding)
        for rel in sorted(stacks):
            if rel in self.elves:
                self.findings.append(exec_stack_finding(rel, owned.get(rel, "")))
        for rel in machos:
            self.findings.append(macho_in_linux_finding(rel, owned.get(rel, "")))

    def requirements(self) -> tuple[str, ...]:
        """What the tree's extensions need from the target host, by the policy's groups,
        named after the Python module that (perhaps through bundled libraries) needs it."""
        needers: dict[str, list[str]] = {}
        for rel, info in self.elves.items():
            for soname in info.needed:
                needers.setdefault(soname, []).append(rel)

        def modules(rel: str, seen: frozenset[str]) -> set[str]:
            if "/site-packages/" in rel or "/lib-dynload/" in rel:
                return {module_of(rel)}
            info = self.elves[rel]
            name = info.soname or posixpath.basename(rel)
            found: set[str] = set()
            for needer in needers.get(name, ()):
                if needer not in seen:
                    found |= modules(needer, seen | {needer})
            return found or {module_of(rel)}

        notes: set[str] = set()
        for rel, info in self.elves.items():
            for soname in info.needed:
                for module in sorted(modules(rel, frozenset({rel}))):
                    note = host_requirement(soname, module)
                    if note is not None:
                        notes.add(note)
        return tuple(sorted(notes))

    def symlink(self, rel: str, entry: os.DirEntry[str]) -> None:
        target = os.readlink(entry.path)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
        if target.startswith("/") or not is_within(resolved, self.top):
            self.add("symlink-escapes", rel, f"symlink to {target} leaves the tree")
        elif not os.path.exists(entry.path):
            self.add("dangling-symlink", rel, f"symlink to {target} points to nothing")

    def file(self, rel: str, entry: os.DirEntry[str]) -> None:
        """One regular file: by its name first (the table below), else by its content."""
        path = Path(entry.path)
        for matches, handle in _BY_NAME:
            if matches(rel, entry.name):
                handle(self, rel, path)
                return
        self.content(rel, entry, path)

    def pyvenv_cfg(self, rel: str, path: Path) -> None:
        cfg = dict(parse_pyvenv_cfg(path.read_text(errors="replace")))
        if "home" in cfg and cfg["home"].startswith("/"):
            self.build_paths.add(posixpath.dirname(cfg["home"].rstrip("/")))
        if "home" in cfg:
            self.add(
                "pyvenv-home", rel, f"home = {cfg['home']} ties the environment to the build host"
            )

    def start_file(self, rel: str, path: Path) -> None:
        self.findings += [] if self.exporting else startup_findings(rel, path.read_bytes())

    def pth_file(self, rel: str, path: Path) -> None:
        data = path.read_bytes()
        self.findings += [] if self.exporting else startup_findings(rel, data)
        for line in pth_path_lines(data.decode("utf-8", errors="replace")):
            if line.startswith("/"):
                self.add("absolute-pth", rel, f"adds absolute path {line} to sys.path")

    def direct_url(self, rel: str, path: Path) -> None:
        url = editable_url(path.parent)
        if url is not None:
            self.add("editable", rel, f"editable install of {url}")

    def sysconfigdata(self, rel: str, path: Path) -> None:
        text = path.read_text(errors="replace")
        if "_uv_portable_relocate" in text:
            return
        prefix = sysconfig_prefix(text)
        # A distribution's own prefix (/usr) is where every host keeps its Python headers:
        # nothing the user could change, and not a path of the build machine.
        if prefix and prefix.startswith("/") and prefix not in ("/usr", "/usr/local"):
            self.build_paths.add(prefix)
            self.add(
                "sysconfig-build-path",
                rel,
                f"names the build prefix {prefix}; building extensions here would look there",
            )

    def content(self, rel: str, entry: os.DirEntry[str], path: Path) -> None:
        """ELF and Mach-O files, misnamed libraries, bin/ scripts; text worth scanning."""
        name = entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if self._worth_scanning(rel, name, entry):
            self.texts.append((rel, path))
        if (".so" in name or mode & 0o111) and is_elf(path):
            self.elf(rel, entry, path)
        elif (".so" in name or ".dylib" in name or mode & 0o111) and is_macho(path):
            self.machos.append(rel)
            self.findings += macho_findings(rel, path, self.top)
        elif SO_NAME.search(name) and entry.stat().st_size > 0:
            self.add("not-elf", rel, "named like a shared library but not an ELF file")
        elif rel.startswith("bin/") and mode & 0o111:
            with open(entry.path, "rb") as fh:
                self.script(rel, fh.read(4096))

    def elf(self, rel: str, entry: os.DirEntry[str], path: Path) -> None:
        try:
            info = read_elf(path)
        except BinaryFormatError as exc:
            self.add("broken-elf", rel, exc.message)
            return
        self.elves[rel] = info
        origin = posixpath.dirname(entry.path)
        for item in info.search_path:
            expanded = expand_origin(item, origin)
            if item.startswith("/"):
                self.add("abs-runpath", rel, f"RUNPATH/RPATH names {item}")
            elif expanded is not None and not is_within(expanded, self.top):
                self.add("runpath-escapes", rel, f"{item} points outside the tree")

    def script(self, rel: str, head: bytes) -> None:
        """A bin/ script must run the Python inside the tree, or a program of the host."""
        shebang = parse_shebang(head)
        if shebang is None:
            return
        interpreter = shebang.interpreter
        if shebang.relocatable:
            if not all(arg.startswith("-") for arg in shebang.args.split()):
                self.add(
                    "script-not-python",
                    rel,
                    f"runs bin/{interpreter} on {shebang.args!r}: a script of another "
                    "language was given Python's relocatable header",
                )
            elif not (self.root / "bin" / interpreter).exists():
                self.add(
                    "script-no-python",
                    rel,
                    f"runs bin/{interpreter} beside it, which is not in the tree",
                )
        elif interpreter.startswith("/") and PYTHON_NAME.match(posixpath.basename(interpreter)):
            self.add("abs-shebang", rel, f"runs {interpreter} by absolute path; moved, it breaks")
        elif interpreter.startswith("/") and interpreter not in SYSTEM_INTERPRETERS:
            self.add("host-interpreter", rel, f"runs {interpreter} of the target host")

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
                self.add("build-path-mention", rel, f"mentions {hit} of the build host")

    def libraries(self) -> None:
        """Every needed library must come from the tree or from every host (the policy)."""
        objects = {f"{self.top}/{rel}": info for rel, info in self.elves.items()}
        closure = tree_closure(objects, os.path.isfile, self.top)
        for soname, needers in sorted(closure.unresolved.items()):
            needer = needers[0]
            if soname.startswith("libpython") and soname in self.names:
                continue  # loaded by the interpreter before any extension
            if soname in self.tolerated:
                continue  # accepted by the policy when exporting; reported there
            finding = unresolved_finding(
                soname, needer[len(self.top) + 1 :], exporting=self.exporting
            )
            if self.host_libraries:
                finding = replace(finding, severity="warning")
            self.findings.append(finding)


def verify_tree(
    root: Path,
    *,
    host_libraries: bool = False,
    build_paths: tuple[str, ...] = (),
    tolerated: frozenset[str] = frozenset(),
    exporting: bool = False,
) -> TreeReport:
    """Find what would stop the tree from running elsewhere.

    ``host_libraries``: the user says the target provides libraries outside the policy
    (``--no-bundle``), so unresolved ones are warnings, not errors. ``build_paths``: absolute
    paths of the build host to look for in scripts and metadata (besides those the tree names
    itself: a pyvenv.cfg ``home``, an unrelocated ``_sysconfigdata`` prefix). ``tolerated``:
    sonames the missing-library policy accepted (the plan's, or the manifest's).
    ``exporting``: word hints for the export that made the tree, not for a later check.
    """
    return _Verifier(root, host_libraries, build_paths, tolerated, exporting).run()


def module_of(rel: str) -> str:
    """The module (or distribution folder) an extension belongs to, for messages:
    lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so -> tkinter."""
    parts = rel.split("/")
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        top = parts[parts.index("site-packages") + 1]
        return top.split(".", 1)[0]
    if "lib-dynload" in parts:
        return parts[-1].split(".", 1)[0].lstrip("_")
    return rel


def _in_site_packages(rel: str) -> bool:
    return "/site-packages/" in f"/{rel}"


# Files judged by their name, in order; everything else by its content (_Verifier.content).
_BY_NAME: tuple[tuple[Callable[[str, str], bool], Callable[[_Verifier, str, Path], None]], ...] = (
    (lambda rel, name: name == "pyvenv.cfg" and "/" not in rel, _Verifier.pyvenv_cfg),
    (lambda rel, name: name.endswith(".start") and _in_site_packages(rel), _Verifier.start_file),
    (lambda rel, name: name.endswith(".pth") and _in_site_packages(rel), _Verifier.pth_file),
    (lambda rel, name: rel.endswith(".dist-info/direct_url.json"), _Verifier.direct_url),
    (
        lambda rel, name: name.startswith("_sysconfigdata") and name.endswith(".py"),
        _Verifier.sysconfigdata,
    ),
)
