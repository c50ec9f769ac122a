"""Turn a source venv into a Plan: every file's fate decided before anything is written."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from pathlib import Path

from uv_portable import __version__
from uv_portable.binaries.elf import ELF_MAGIC
from uv_portable.binaries.macho import MACHO_MAGICS
from uv_portable.distributions import editable_finding
from uv_portable.errors import SourceError, io_error
from uv_portable.model import Action, CopyFile, MakeSymlink, Plan, SourceEnv, WriteFile
from uv_portable.plan_base import (
    _PYTHON_NAME,
    BASE_DATA_GLOBS,
    OUT,
    STDLIB_TEST_DIRS,
    SYSTEM_PREFIXES,
    VENV_DROPPED,
    ExportOptions,
)
from uv_portable.plan_elf import ElfPlanning
from uv_portable.plan_macho import MachOPlanning
from uv_portable.runpath import map_into
from uv_portable.scripts import (
    portable_pyvenv_cfg,
    pth_path_lines,
    relocate_activate,
    relocate_sysconfigdata,
    rewrite_shebang,
    sysconfig_prefix,
)

__all__ = ["OUT", "ExportOptions", "make_plan"]


_DIST_PACKAGES_PTH = (
    "import os, site, sys; "
    "site.addsitedir(os.path.join(sys.prefix, 'lib', '{lib}', 'site-packages'))\n"
)


def _patched_for_dist_packages(site_py: Path) -> bool:
    """Whether a base's site.py is a distribution's (Debian/Ubuntu), which reads
    dist-packages instead of site-packages outside a venv."""
    try:
        return "dist-packages" in site_py.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


class _Planner(ElfPlanning, MachOPlanning):
    """The base interpreter, the venv, and the order of decisions."""

    def plan_base(self) -> None:
        base = self.base
        name = base.libdir_name
        self.add_dir("bin")
        self.add_dir("lib")
        self.add_file(base.executable, f"bin/{name}", "base", base.executable.stat())
        for alias in ("python", "python3"):
            if alias != name:
                self.add(MakeSymlink(f"bin/{alias}", name), "base")
        if base.platform == "macos":
            self.plan_macos_libpython()
        else:
            self.plan_linux_libpython()
        self.plan_stdlib()

    def plan_linux_libpython(self) -> None:
        """Copy the libpython the interpreter needs (if it is a shared build) into lib/."""
        base = self.base
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

    def plan_stdlib(self) -> None:
        """The standard library, headers, and the run-time data it needs."""
        base = self.base
        name = base.libdir_name
        tests = () if self.options.keep_tests else STDLIB_TEST_DIRS

        def skip_stdlib(rel: str) -> bool:
            if rel in ("site-packages", "dist-packages") or rel in tests:
                return True
            return rel.startswith("__pycache__/_sysconfigdata")

        self.add_tree(base.stdlib, f"lib/{name}", "base", skip_stdlib)
        if not self.options.keep_config:
            # sysconfig names config-*/ (Makefile, Setup, config.c): keep it, but not the
            # static libpython, which only embedding needs and which weighs tens of MB.
            for dest in [d for d in self.files if fnmatch.fnmatch(d, f"lib/{name}/config-*/*.a")]:
                del self.files[dest]
                self.origin.pop(dest, None)
                self.elf.pop(dest, None)
        if _patched_for_dist_packages(base.stdlib / "site.py"):
            # Debian's site.py looks in dist-packages, never in site-packages, unless it runs
            # in a venv: point it at the venv's packages (their .pth files included).
            self.add_dir(f"lib/{name}/dist-packages")
            self.add(
                WriteFile(
                    f"lib/{name}/dist-packages/_uv_portable_site.pth",
                    _DIST_PACKAGES_PTH.format(lib=name).encode(),
                    0o644,
                    "the distribution's site.py reads dist-packages",
                ),
                "base",
            )
        if str(base.prefix) not in SYSTEM_PREFIXES:  # a distro's /usr values stay true
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

    def relocate_sysconfigdata(self) -> None:
        lib = f"lib/{self.base.libdir_name}"
        for dest, action in list(self.files.items()):
            name = posixpath.basename(dest)
            if not (dest.startswith(lib + "/_sysconfigdata") and name.endswith(".py")):
                continue
            assert isinstance(action, CopyFile)
            text = action.src.read_text(encoding="utf-8")
            prefix = sysconfig_prefix(text)
            new = relocate_sysconfigdata(text, prefix) if prefix else None
            if new is not None:
                mode = stat.S_IMODE(action.src.stat().st_mode)
                self.add(
                    WriteFile(
                        dest, new.encode(), mode, "build prefix -> run-time prefix", action.src
                    ),
                    "base",
                )

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
            if data[:4] == ELF_MAGIC or data[:4] in MACHO_MAGICS:
                self.add_file(src, dest, "venv", entry.stat())  # a binary: analysed, not edited
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
        for dist in self.distributions:
            if dist.editable_url is not None:
                self.findings.append(editable_finding(dist, str(dist.dist_info)))
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
                    if not any(f.code == "editable" for f in self.findings):
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


def make_plan(source: SourceEnv, options: ExportOptions | None = None) -> Plan:
    """Decide every action of an export; reads the source, writes nothing."""
    planner = _Planner(source, options or ExportOptions())
    try:
        planner.plan_base()
        planner.plan_venv()
        macho_edits = planner.plan_macho()
        patches = planner.plan_elf()
    except OSError as exc:
        raise io_error(exc, exc.filename, writing=False) from exc
    actions: list[Action] = [planner.dirs[d] for d in sorted(planner.dirs)]
    actions += [planner.files[d] for d in sorted(planner.files)]
    actions += patches
    actions += macho_edits
    if planner.bundled:
        names = ", ".join(sorted(name for name, _ in planner.bundled))
        planner.notes.append(f"bundled {len(planner.bundled)} shared libraries into lib/: {names}")
    return Plan(
        source=source,
        actions=tuple(actions),
        findings=tuple(planner.findings),
        notes=tuple(planner.notes),
        bundled=tuple(planner.bundled),
        glibc=tuple(sorted(planner.floors.items())),
        bundling=planner.options.bundle,
        target_glibc=planner.options.target_glibc,
        missing=tuple(planner.missing),
        data_gaps=tuple(planner.data_gaps),
        distributions=planner.distributions,
    )
