"""ELF decisions: RUNPATH relocation, the shared-library closure and the glibc floor."""

from __future__ import annotations

import posixpath
from dataclasses import replace
from pathlib import Path

from uv_portable.binaries.elf import SO_NAME, ElfInfo, read_elf
from uv_portable.binaries.libs import resolve_on_host, same_file, search_dirs, tree_closure
from uv_portable.binaries.policy import find_library_data, library_data
from uv_portable.errors import RefusedError
from uv_portable.glibc import needed_glibc, too_new
from uv_portable.model import CopyFile, SetSearchPath
from uv_portable.plan_base import _ELF_HINT, DEFAULT_LIB_DIRS, OUT, PlannerBase
from uv_portable.runpath import Relocated, expand_origin, map_into, origin_relative, relocate


class ElfPlanning(PlannerBase):
    """Decisions about the ELF files of the output."""

    def find_base_library(self, soname: str, info: ElfInfo) -> Path | None:
        """Where the interpreter's loader finds soname (its libpython), or None."""
        origin = str(self.base.executable.parent)
        found = resolve_on_host(
            soname,
            search_dirs(info, origin),
            extra_default=(str(self.base.prefix / "lib"), "/usr/local/lib"),
        )
        return Path(found).resolve() if found else None

    def read(self, path: Path) -> ElfInfo:
        return read_elf(path)

    def check_so_names(self) -> None:
        """A file named like a shared library that is not ELF cannot be loaded: refuse it."""
        for dest, action in self.files.items():
            if (
                isinstance(action, CopyFile)
                and SO_NAME.search(dest)
                and dest not in self.elf
                and dest not in self.macho
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
            for soname, needers in pending:
                settled.add(soname)
                self.bundle(soname, [n[len(OUT) + 1 :] for n in needers], infos)

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

    def bundle(
        self, soname: str, needers: list[str], infos: dict[str, tuple[Path, ElfInfo]]
    ) -> None:
        """Find soname as the loader would for each file that needs it; copy it into lib/.

        Two files that find two different libraries under one soname cannot share lib/:
        refused (auditwheel renames with a hash; that changes what the files load).
        """
        if soname in self.options.allow_missing:
            self.tolerate(soname, needers, "allowed")
            return
        found_by: list[tuple[str, str]] = []  # (needer, host path)
        for needer in needers:
            src, info = infos[needer]
            hit = resolve_on_host(
                soname,
                search_dirs(info, str(src.parent)),
                extra_default=(str(self.base.prefix / "lib"),),
            )
            if hit is not None:
                found_by.append((needer, hit))
        if not found_by:
            # The source cannot load these files either: an optional part (numba's TBB pool).
            self.tolerate(soname, needers, "absent")
            return
        first_needer, first = found_by[0]
        for other_needer, other in found_by[1:]:
            if not same_file(Path(first), Path(other)):
                self.finding(
                    "error",
                    "soname-clash",
                    other_needer,
                    f"needs {soname} from {other}, but {first_needer} needs a different "
                    f"{soname} from {first}",
                    "rebuild both against the same library, or install only one of them",
                )
                return
        dest, found_path = found_by[0]
        real = Path(found_path).resolve()
        mapped = map_into(found_path, self.roots)
        if mapped is not None and mapped[len(OUT) + 1 :] in self.files:
            self.top_libs[soname] = mapped[len(OUT) + 1 :]
            return
        lib_dest = f"lib/{soname}"
        existing = self.files.get(lib_dest)
        if existing is not None:
            shipped = existing.src if isinstance(existing, CopyFile) else None
            if shipped is None or not same_file(shipped, real):
                self.finding(
                    "error",
                    "soname-clash",
                    dest,
                    f"needs {soname} from {found_path}, but lib/{soname} in the "
                    f"environment is a different file ({shipped})",
                    "remove one of the two libraries, or rebuild against the same one",
                )
                return
        else:
            self.add_file(real, lib_dest, "bundle", real.stat())
            self.bundled.append((soname, found_path))
            infos[lib_dest] = (real, self.read(real))
            self.bundle_data(soname, real)
        self.top_libs[soname] = lib_dest

    def bundle_data(self, soname: str, library: Path) -> None:
        """Bundle the data folder a bundled library reads (Tcl's init.tcl) as lib/<folder>,
        where the library also looks relative to the interpreter."""
        spec = library_data(soname)
        if spec is None or f"lib/{spec.folder}" in self.dirs:
            return
        folder = find_library_data(spec, library)
        if folder is None:
            self.data_gaps.append(
                f"{soname} is bundled, but its data folder {spec.folder} ({spec.marker}) was "
                "not found on the build host: the target host must provide it"
            )
            return
        self.add_tree(folder, f"lib/{spec.folder}", "bundle")

    def relocated(self, dest: str, src: Path, info: ElfInfo) -> Relocated:
        src_dir = str(src.parent if src != self.base.executable else src.resolve().parent)
        dest_dir = posixpath.dirname(f"{OUT}/{dest}")
        return relocate(info.search_path, src_dir=src_dir, dest_dir=dest_dir, roots=self.roots)

    def plan_elf(self) -> list[SetSearchPath]:
        self.check_so_names()
        infos = self.analyse_elf()
        patches = []
        for dest, (src, info) in sorted(infos.items()):
            floor = needed_glibc(info)
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
        if target is not None:
            self.findings += too_new(self.floors, target)
