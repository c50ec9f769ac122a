"""Turn a source venv into a Plan: every file's fate decided before anything is written."""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from uv_portable import __version__
from uv_portable.binaries.elf import ElfInfo, is_elf, read_elf
from uv_portable.binaries.libs import (
    glibc_floor,
    resolve_on_host,
    same_file,
    search_dirs,
    tree_closure,
    version_str,
)
from uv_portable.errors import OutputError, RefusedError, SourceError, io_error
from uv_portable.model import (
    Action,
    CopyFile,
    Finding,
    MakeDir,
    MakeSymlink,
    Plan,
    SetSearchPath,
    SourceEnv,
    WriteFile,
)
from uv_portable.runpath import Relocated, expand_origin, map_into, origin_relative, relocate
from uv_portable.scripts import (
    portable_pyvenv_cfg,
    pth_path_lines,
    relocate_activate,
    relocate_sysconfigdata,
    rewrite_shebang,
)

# The output as the planner imagines it: an absolute root to compute relative paths against.
OUT = "/uv-portable-out"
SYSTEM_PREFIXES = frozenset({"/", "/usr", "/usr/local"})
# Library folders every glibc host searches anyway: dropping them from a RUNPATH is harmless.
DEFAULT_LIB_DIRS = frozenset(
    {
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/aarch64-linux-gnu",
    }
)
# Test suites of the standard library (relative to lib/pythonX.Y), left out by default.
STDLIB_TEST_DIRS = (
    "test",
    "idlelib/idle_test",
    "lib2to3/tests",
    "tkinter/test",
    "unittest/test",
    "ctypes/test",
    "distutils/tests",
    "sqlite3/test",
    "tkinter/test",
)
# Runtime data of the base that the standard library loads (Tcl/Tk for tkinter).
BASE_DATA_GLOBS = ("tcl8*", "tk8*", "itcl*", "thread2*", "tcl9*", "tk9*")
VENV_DROPPED = frozenset({"pyvenv.cfg", "CACHEDIR.TAG", ".gitignore", ".lock"})
_PYTHON_NAME = re.compile(r"^python(\d(\.\d+t?)?)?$")
_SO_NAME = re.compile(r"\.so(\.\d+)*$")
_ELF_HINT = "reinstall the package that ships it, or report it to uv-portable"


@dataclass(frozen=True)
class ExportOptions:
    """What the user asked for, beyond source and output."""

    keep_tests: bool = False
    keep_config: bool = False
    exclude: tuple[str, ...] = ()
    bundle: bool = True  # copy in the shared libraries the target host may lack
    allow_missing: tuple[str, ...] = ()  # sonames that may stay unresolved (warning only)
    target_glibc: tuple[int, int] | None = None  # refuse files needing a newer glibc


def _rel(parent: str, name: str) -> str:
    return name if not parent else f"{parent}/{name}"


class _Planner:
    def __init__(self, source: SourceEnv, options: ExportOptions) -> None:
        self.source = source
        self.options = options
        self.base = source.base
        self.files: dict[str, Action] = {}
        self.origin: dict[str, str] = {}  # dest -> "base" | "venv"
        self.dirs: dict[str, MakeDir] = {}
        self.elf: dict[str, Path] = {}  # dest -> source file
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        prefix = str(self.base.prefix)
        venv_roots = {str(source.path), str(source.real_path)}
        self.roots: list[tuple[str, str]] = [(v, OUT) for v in venv_roots]
        if prefix in SYSTEM_PREFIXES:
            # Map only what we ship from a distro prefix, never all of /usr.
            lib = f"lib/{self.base.libdir_name}"
            self.roots += [
                (f"{prefix.rstrip('/')}/{lib}", f"{OUT}/{lib}"),
                (
                    f"{prefix.rstrip('/')}/include/{self.base.libdir_name}",
                    f"{OUT}/include/{self.base.libdir_name}",
                ),
            ]
        else:
            self.roots.append((prefix, OUT))
        self.venv_bins = {posixpath.join(v, "bin") for v in venv_roots}
        self.top_libs: dict[str, str] = {}  # soname -> dest, for libraries shipped in lib/
        self.bundled: list[tuple[str, str]] = []  # (soname, host path) copied into lib/
        self.floors: dict[str, tuple[int, int]] = {}  # dest -> newest GLIBC_x.y it needs

    # -- recording ---------------------------------------------------------------------------
    def excluded(self, dest: str) -> bool:
        return any(fnmatch.fnmatch(dest, pat) for pat in self.options.exclude)

    def add(self, action: Action, origin: str) -> None:
        dest = action.dest
        if self.excluded(dest):
            return
        previous = self.origin.get(dest)
        if previous == "base" and origin == "venv":
            self.finding("info", "venv-overrides-base", dest, "the venv's file replaces the base's")
        self.files[dest] = action
        self.origin[dest] = origin
        self.elf.pop(dest, None)

    def add_dir(self, dest: str, mode: int = 0o755) -> None:
        if dest and not self.excluded(dest):
            self.dirs[dest] = MakeDir(dest, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)

    def finding(self, severity: str, code: str, path: str, message: str, hint: str = "") -> None:
        self.findings.append(Finding(severity, code, path, message, hint))

    # -- walking -----------------------------------------------------------------------------
    def add_file(self, src: Path, dest: str, origin: str, st: os.stat_result) -> None:
        self.add(CopyFile(src, dest), origin)
        if (".so" in src.name or st.st_mode & 0o111) and is_elf(src):
            self.elf[dest] = src

    def add_tree(
        self, src: Path, dest: str, origin: str, skip: Callable[[str], bool] = lambda r: False
    ) -> None:
        """Add a folder recursively; ``skip`` gets paths relative to src."""
        try:
            self.add_dir(dest, src.stat().st_mode)
            entries = sorted(os.scandir(src), key=lambda e: e.name)
        except PermissionError as exc:
            raise OutputError(
                f"cannot read {src}: permission denied", "fix its permissions or run as its owner"
            ) from exc
        self._walk(src, dest, origin, "", entries, skip)

    def _walk(
        self,
        src: Path,
        dest: str,
        origin: str,
        rel: str,
        entries: list[os.DirEntry[str]],
        skip: Callable[[str], bool],
    ) -> None:
        for entry in entries:
            entry_rel = _rel(rel, entry.name)
            if skip(entry_rel):
                continue
            path = Path(entry.path)
            target = _rel(dest, entry_rel)
            if entry.is_symlink():
                self.add_symlink(path, target, origin)
            elif entry.is_dir():
                self.add_tree(path, target, origin)  # deeper levels are never skipped
            elif entry.is_file():
                self.add_file(path, target, origin, entry.stat())
            else:
                self.finding("warning", "special-file", str(path), "not a regular file; left out")

    def add_symlink(self, link: Path, dest: str, origin: str) -> None:
        target = os.readlink(link)
        absolute = posixpath.normpath(posixpath.join(str(link.parent), target))
        mapped = map_into(absolute, self.roots)
        if mapped is not None:
            rel = posixpath.relpath(mapped, posixpath.dirname(f"{OUT}/{dest}"))
            self.add(MakeSymlink(dest, rel), origin)
            return
        real = Path(os.path.realpath(link))
        if real.is_file():
            self.add_file(real, dest, origin, real.stat())
            self.finding("info", "symlink-copied", str(link), f"points outside ({target}); copied")
        elif real.is_dir():
            self.add_tree(real, dest, origin)
            self.finding("info", "symlink-copied", str(link), f"points outside ({target}); copied")
        else:
            self.finding("warning", "dangling-symlink", str(link), f"points to missing {target}")

    # -- the base interpreter ----------------------------------------------------------------
    def plan_base(self) -> None:
        base = self.base
        name = base.libdir_name
        self.add_dir("bin")
        self.add_dir("lib")
        self.add_file(base.executable, f"bin/{name}", "base", base.executable.stat())
        for alias in ("python", "python3"):
            if alias != name:
                self.add(MakeSymlink(f"bin/{alias}", name), "base")
        exe_info = self.read(base.executable)
        for soname in exe_info.needed:
            if soname.startswith("libpython"):
                found = self.find_base_library(soname, exe_info)
                if found is None:
                    raise SourceError(
                        f"{base.executable} needs {soname}, which is nowhere to be found",
                        "reinstall the base interpreter",
                    )
                self.add_file(found, f"lib/{soname}", "base", found.stat())
                self.top_libs[soname] = f"lib/{soname}"

        tests = () if self.options.keep_tests else STDLIB_TEST_DIRS

        def skip_stdlib(rel: str) -> bool:
            if rel in ("site-packages", "dist-packages") or rel in tests:
                return True
            if rel.startswith("config-") and not self.options.keep_config:
                return True
            return rel.startswith("__pycache__/_sysconfigdata")

        self.add_tree(base.stdlib, f"lib/{name}", "base", skip_stdlib)
        self.relocate_sysconfigdata()
        include = base.prefix / "include" / name
        if include.is_dir():
            self.add_tree(include, f"include/{name}", "base")
        if str(base.prefix) not in SYSTEM_PREFIXES:
            for pattern in BASE_DATA_GLOBS:
                for data in sorted((base.prefix / "lib").glob(pattern)):
                    if data.is_dir():
                        self.add_tree(data, f"lib/{data.name}", "base")
            terminfo = base.prefix / "share" / "terminfo"
            if terminfo.is_dir():
                self.add_tree(terminfo, "share/terminfo", "base")

    def find_base_library(self, soname: str, info: ElfInfo) -> Path | None:
        origin = str(self.base.executable.parent)
        dirs = [expand_origin(e, origin) for e in info.search_path]
        dirs += [str(self.base.prefix / "lib"), *sorted(DEFAULT_LIB_DIRS), "/usr/local/lib"]
        for folder in dirs:
            if folder and Path(folder, soname).is_file():
                return Path(folder, soname).resolve()
        return None

    def relocate_sysconfigdata(self) -> None:
        lib = f"lib/{self.base.libdir_name}"
        for dest, action in list(self.files.items()):
            name = posixpath.basename(dest)
            if not (dest.startswith(lib + "/_sysconfigdata") and name.endswith(".py")):
                continue
            assert isinstance(action, CopyFile)
            text = action.src.read_text(encoding="utf-8")
            match = re.search(r"""['"]prefix['"]\s*:\s*['"]([^'"]+)['"]""", text)
            new = relocate_sysconfigdata(text, match[1]) if match else None
            if new is not None:
                mode = stat.S_IMODE(action.src.stat().st_mode)
                self.add(
                    WriteFile(
                        dest, new.encode(), mode, "build prefix -> run-time prefix", action.src
                    ),
                    "base",
                )

    # -- the venv ------------------------------------------------------------------------------
    def plan_venv(self) -> None:
        venv = self.source.path
        for entry in sorted(os.scandir(venv), key=lambda e: e.name):
            if entry.name in VENV_DROPPED or entry.name == "bin":
                continue
            self._walk(venv, "", "venv", "", [entry], lambda r: False)
        self.plan_bin(venv / "bin")
        cfg = portable_pyvenv_cfg(self.source.cfg, __version__)
        self.add(WriteFile("pyvenv.cfg", cfg.encode(), 0o644, "pyvenv.cfg without home"), "venv")
        self.check_site_packages()

    def is_build_python(self, interpreter: str) -> bool:
        folder = posixpath.dirname(interpreter)
        if folder in self.venv_bins or folder == str(self.base.prefix / "bin"):
            return True
        return os.path.realpath(interpreter) == str(self.base.executable)

    def plan_bin(self, bin_dir: Path) -> None:
        rewritten = 0
        build_paths = {str(self.source.path), str(self.source.real_path)}
        for entry in sorted(os.scandir(bin_dir), key=lambda e: e.name):
            dest = f"bin/{entry.name}"
            if _PYTHON_NAME.match(entry.name):
                continue  # replaced by the copied interpreter and our symlinks
            if entry.is_symlink() or not entry.is_file():
                self._walk(bin_dir, "bin", "venv", "", [entry], lambda r: False)
                continue
            src = Path(entry.path)
            data = src.read_bytes()
            if data.startswith(b"\x7fELF"):
                self.add_file(src, dest, "venv", entry.stat())
                continue
            new = rewrite_shebang(data, self.is_build_python)
            reason = "relocatable shebang"
            if new is None:
                text = data.decode("utf-8", errors="surrogateescape")
                for path in sorted(build_paths, key=len, reverse=True):
                    changed = relocate_activate(entry.name, text, path)
                    text = changed if changed is not None else text
                encoded = text.encode("utf-8", errors="surrogateescape")
                new, reason = (
                    (encoded, "activate computes its location") if encoded != data else (None, "")
                )
            if new is None:
                self.add(CopyFile(src, dest), "venv")
                content = data
            else:
                rewritten += 1
                mode = stat.S_IMODE(entry.stat().st_mode)
                self.add(WriteFile(dest, new, mode, reason, src), "venv")
                content = new
            if any(p.encode() in content for p in build_paths):
                self.finding(
                    "warning",
                    "build-path-in-script",
                    dest,
                    "still names the source venv's absolute path; it will not work elsewhere",
                    "regenerate the venv with `uv venv --relocatable`",
                )
        if rewritten and not self.source.relocatable:
            self.notes.append(
                f"rewrote {rewritten} script(s) in bin/ to be relocatable "
                "(the venv was not created with `uv venv --relocatable`)"
            )

    def check_site_packages(self) -> None:
        site = self.source.site_packages
        dest_site = f"lib/{self.base.libdir_name}/site-packages"
        editables: list[str] = []
        for info in sorted(site.glob("*.dist-info/direct_url.json")):
            try:
                data = json.loads(info.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("dir_info", {}).get("editable"):
                dist = info.parent.name.split("-")[0]
                url = str(data.get("url", "")).removeprefix("file://")
                editables.append(f"{dist} ({url})")
                self.finding(
                    "error",
                    "editable",
                    str(info.parent),
                    f"{dist} is an editable install of {url}",
                    "reinstall non-editable: `uv sync --no-editable`",
                )
        if editables:
            self.notes.append("editable installs cannot be exported: " + ", ".join(editables))
        for pth in sorted(site.glob("*.pth")):
            text = pth.read_text(encoding="utf-8", errors="surrogateescape")
            changed = False
            lines = text.splitlines(keepends=True)
            paths = set(pth_path_lines(text))
            for i, line in enumerate(lines):
                entry = line.strip()
                if entry not in paths or not entry.startswith("/"):
                    continue
                mapped = map_into(posixpath.normpath(entry), self.roots)
                if mapped is None:
                    if not any(e.startswith(str(pth.parent)) for e in editables):
                        self.finding(
                            "error",
                            "absolute-pth",
                            str(pth),
                            f"adds {entry} (outside the environment) to sys.path",
                            "install that code into the venv non-editable, or remove the .pth",
                        )
                    continue
                rel = posixpath.relpath(mapped, f"{OUT}/{dest_site}")
                lines[i] = line.replace(entry, rel)
                changed = True
            if changed:
                mode = stat.S_IMODE(pth.stat().st_mode)
                self.add(
                    WriteFile(
                        f"{dest_site}/{pth.name}",
                        "".join(lines).encode(),
                        mode,
                        ".pth paths made relative",
                        pth,
                    ),
                    "venv",
                )

    # -- binaries ------------------------------------------------------------------------------
    def read(self, path: Path) -> ElfInfo:
        return read_elf(path)

    def check_so_names(self) -> None:
        """A file named like a shared library that is not ELF cannot be loaded: refuse it."""
        for dest, action in self.files.items():
            if (
                isinstance(action, CopyFile)
                and _SO_NAME.search(dest)
                and dest not in self.elf
                and action.src.stat().st_size > 0
                and not action.src.is_symlink()
            ):
                with action.src.open("rb") as fh:
                    head = fh.read(4)
                if head != b"\x7fELF" and not head.startswith((b"/*", b"GROUP", b"INPUT")):
                    self.finding(
                        "error",
                        "not-elf",
                        dest,
                        f"is named like a shared library but is not an ELF file ({action.src})",
                        "remove it from the venv, or leave it out with --exclude",
                    )

    def analyse_elf(self) -> dict[str, tuple[Path, ElfInfo]]:
        """Read every ELF of the output and bundle, transitively, the libraries that the
        loader would not find inside it (nor on every host, per the policy)."""
        infos: dict[str, tuple[Path, ElfInfo]] = {}
        for dest, src in sorted(self.elf.items()):
            try:
                info = self.read(src)
            except RefusedError as exc:
                self.finding("error", "broken-elf", dest, exc.message, _ELF_HINT)
                continue
            if info.is_dynamic:
                infos[dest] = (src, info)
        if not self.options.bundle:
            return infos
        settled: set[str] = set()  # sonames bundled, mapped or reported
        while True:
            objects = {
                f"{OUT}/{dest}": self.as_relocated(dest, src, info)
                for dest, (src, info) in infos.items()
            }
            closure = tree_closure(objects, self.in_output, OUT)
            pending = sorted(
                (s, p)
                for s, p in closure.unresolved.items()
                if s not in self.top_libs and s not in settled
            )
            if not pending:
                return infos
            for soname, needer in pending:
                settled.add(soname)
                self.bundle(soname, needer[len(OUT) + 1 :], infos)

    def in_output(self, path: str) -> bool:
        return path.startswith(OUT + "/") and path[len(OUT) + 1 :] in self.files

    def as_relocated(self, dest: str, src: Path, info: ElfInfo) -> ElfInfo:
        """The file's ELF facts with the search path it will have in the output."""
        entries = self.relocated(dest, src, info).entries
        if info.runpath is not None:
            return replace(info, runpath=entries)
        if info.rpath is not None:
            return replace(info, rpath=entries)
        return info

    def bundle(self, soname: str, dest: str, infos: dict[str, tuple[Path, ElfInfo]]) -> None:
        """Find soname as the loader would on this host and copy it into lib/."""
        src, info = infos[dest]
        found = resolve_on_host(
            soname,
            search_dirs(info, str(src.parent)),
            extra_default=(str(self.base.prefix / "lib"),),
        )
        if found.path is None:
            severity = "warning" if soname in self.options.allow_missing else "error"
            self.finding(
                severity,
                "missing-library",
                dest,
                f"needs {soname}, which is not found",
                f"install the package that provides {soname}, or pass "
                f"--allow-missing {soname} if the target host has it",
            )
            return
        real = Path(found.path).resolve()
        mapped = map_into(found.path, self.roots)
        if mapped is not None and mapped[len(OUT) + 1 :] in self.files:
            self.top_libs[soname] = mapped[len(OUT) + 1 :]
            return
        lib_dest = f"lib/{soname}"
        existing = self.files.get(lib_dest)
        if existing is not None:
            other = existing.src if isinstance(existing, CopyFile) else None
            if other is None or not same_file(other, real):
                self.finding(
                    "error",
                    "soname-clash",
                    dest,
                    f"needs {soname} from {found.path}, but lib/{soname} in the "
                    f"environment is a different file ({other})",
                    "remove one of the two libraries, or rebuild against the same one",
                )
                return
        else:
            self.add_file(real, lib_dest, "bundle", real.stat())
            self.bundled.append((soname, found.path))
            infos[lib_dest] = (real, self.read(real))
        self.top_libs[soname] = lib_dest

    def relocated(self, dest: str, src: Path, info: ElfInfo) -> Relocated:
        src_dir = str(src.parent if src != self.base.executable else src.resolve().parent)
        dest_dir = posixpath.dirname(f"{OUT}/{dest}")
        return relocate(info.search_path, src_dir=src_dir, dest_dir=dest_dir, roots=self.roots)

    def plan_elf(self) -> list[SetSearchPath]:
        self.check_so_names()
        infos = self.analyse_elf()
        patches = []
        for dest, (src, info) in sorted(infos.items()):
            floor = glibc_floor(info)
            if floor is not None:
                self.floors[dest] = floor
            dest_dir = posixpath.dirname(f"{OUT}/{dest}")
            old = info.search_path
            result = self.relocated(dest, src, info)
            entries = list(result.entries)
            for entry in result.dropped:
                known = posixpath.normpath(entry) in DEFAULT_LIB_DIRS
                self.finding(
                    "info" if known else "warning",
                    "runpath-dropped",
                    dest,
                    f"search-path entry {entry} is outside the environment; dropped",
                )
            reachable = {expand_origin(e, dest_dir) for e in entries}
            for soname in info.needed:
                shipped = self.top_libs.get(soname)
                if shipped is None or shipped == dest:
                    continue
                folder = posixpath.dirname(f"{OUT}/{shipped}")
                if folder not in reachable:
                    entries.append(origin_relative(folder, dest_dir))
                    reachable.add(folder)
            if tuple(entries) != old:
                # A file without RUNPATH keeps (or gets) an RPATH: with a RUNPATH it would stop
                # searching its loaders' RPATHs, which wheels' vendored libraries rely on.
                as_rpath = info.runpath is None
                patches.append(SetSearchPath(dest, tuple(entries), old, as_rpath))
        self.check_glibc()
        return patches

    def check_glibc(self) -> None:
        target = self.options.target_glibc
        if target is None:
            return
        too_new = sorted(((v, d) for d, v in self.floors.items() if v > target), reverse=True)
        for version, dest in too_new:
            self.finding(
                "error",
                "glibc-too-new",
                dest,
                f"needs glibc {version_str(version)}, newer than the target {version_str(target)}",
                "build on (or for) an older system, or raise --target-glibc",
            )


def make_plan(source: SourceEnv, options: ExportOptions | None = None) -> Plan:
    """Decide every action of an export; reads the source, writes nothing."""
    planner = _Planner(source, options or ExportOptions())
    try:
        planner.plan_base()
        planner.plan_venv()
        patches = planner.plan_elf()
    except OSError as exc:
        raise io_error(exc, exc.filename, writing=False) from exc
    actions: list[Action] = [planner.dirs[d] for d in sorted(planner.dirs)]
    actions += [planner.files[d] for d in sorted(planner.files)]
    actions += patches
    if planner.bundled:
        names = ", ".join(sorted(name for name, _ in planner.bundled))
        planner.notes.append(f"bundled {len(planner.bundled)} shared libraries into lib/: {names}")
    return Plan(
        source=source,
        actions=tuple(actions),
        findings=tuple(planner.findings),
        notes=tuple(planner.notes),
        bundled=tuple(planner.bundled),
        glibc=tuple(sorted((d, version_str(v)) for d, v in planner.floors.items())),
        bundling=planner.options.bundle,
    )
