"""Mach-O decisions (macOS venvs, on any host): install names and load paths that point into
the base or the venv become @loader_path/@rpath; non-system dylibs found elsewhere are bundled
into lib/ (delocate does the same for wheels); system paths stay."""

from __future__ import annotations

import posixpath
from pathlib import Path

from uv_portable.binaries.macho import (
    check_rewrite,
    expand_load_path,
    is_macho,
    is_system,
    read_macho,
)
from uv_portable.errors import RefusedError, SourceError
from uv_portable.model import SetMachO
from uv_portable.plan_base import OUT, PlannerBase
from uv_portable.runpath import map_into

_HINT = "install the library, or pass --allow-missing NAME if the target Mac has it"


class MachOPlanning(PlannerBase):
    """Decisions about the Mach-O files of the output."""

    def plan_macos_libpython(self) -> None:
        """Copy the libpython dylib the interpreter loads (however it names it) into lib/."""
        exe = self.base.executable
        for sl in read_macho(exe):
            for load in sl.loads:
                name = posixpath.basename(load)
                if not name.startswith("libpython") or name in self.top_libs:
                    continue
                candidates = [Path(expand_load_path(load, str(exe.parent), str(exe.parent)))]
                if load.startswith("@rpath/"):
                    candidates = [
                        Path(expand_load_path(r, str(exe.parent), str(exe.parent)), name)
                        for r in sl.rpaths
                    ]
                candidates.append(self.base.prefix / "lib" / name)
                found = next((c for c in candidates if c.is_file()), None)
                if found is None:
                    raise SourceError(
                        f"{exe} loads {load}, which is nowhere to be found",
                        "reinstall the base interpreter",
                    )
                real = found.resolve()
                self.add_file(real, f"lib/{name}", "base", real.stat())
                self.top_libs[name] = f"lib/{name}"

    def output_target(self, path: str) -> str | None:
        """Where an absolute source path ends up in the output (None: not shipped)."""
        mapped = map_into(path, self.roots)
        if (
            mapped is not None
            and mapped.startswith(OUT + "/")
            and mapped[len(OUT) + 1 :] in self.files
        ):
            return mapped[len(OUT) + 1 :]
        name = posixpath.basename(path)
        if name in self.top_libs and self.bundled_from.get(name) == path:
            return self.top_libs[name]
        return None

    def bundle_dylib(self, path: str, needer: str) -> str | None:
        """Copy a non-system dylib from outside the environment into lib/ (or refuse)."""
        name = posixpath.basename(path)
        source = Path(path)
        if not (source.is_file() and is_macho(source)):
            # The source cannot load it either: the one policy tolerates it, as for ELF.
            allowed = name in self.options.allow_missing
            self.tolerate(name, [needer], "allowed" if allowed else "absent")
            return None
        dest = f"lib/{name}"
        if dest in self.files and self.bundled_from.get(name) != path:
            self.finding(
                "error",
                "dylib-clash",
                needer,
                f"loads {path}, but lib/{name} is already a different file",
                "rename one of the two libraries",
            )
            return None
        if dest not in self.files:
            real = source.resolve()
            self.add_file(real, dest, "bundle", real.stat())
            self.bundled.append((name, path))
            self.bundled_from[name] = path
            self.top_libs[name] = dest
        return dest

    def plan_macho(self) -> list[SetMachO]:
        """Decide the rewrites of every Mach-O file (bundled ones included), then dry-run them."""
        edits: list[SetMachO] = []
        done: set[str] = set()
        while True:
            pending = sorted(set(self.macho) - done)
            if not pending:
                return edits
            for dest in pending:
                done.add(dest)
                edit = self.plan_one_macho(dest, self.macho[dest])
                if edit is not None:
                    edits.append(edit)

    def plan_one_macho(self, dest: str, src: Path) -> SetMachO | None:
        try:
            slices = read_macho(src)
        except RefusedError as exc:
            self.finding("error", "broken-macho", dest, exc.message, exc.hint)
            return None
        dest_dir = posixpath.dirname(f"{OUT}/{dest}")
        names: dict[str, str] = {}
        rpaths: dict[str, str] = {}
        for sl in slices:
            for load in sl.loads:
                if is_system(load) or load.startswith("@") or load in names:
                    continue
                target = self.output_target(load) or self.bundle_dylib(load, dest)
                if target is not None:
                    rel = posixpath.relpath(f"{OUT}/{target}", dest_dir)
                    names[load] = f"@loader_path/{rel}"
            ident = sl.install_name
            ours = ident is not None and (
                self.output_target(ident) is not None or dest.startswith("lib/")
            )
            if ident and ours and ident.startswith("/") and not is_system(ident):
                names[ident] = f"@rpath/{posixpath.basename(dest)}"
            for rpath in sl.rpaths:
                mapped = map_into(rpath, self.roots) if rpath.startswith("/") else None
                if mapped is not None:
                    rpaths[rpath] = "@loader_path/" + posixpath.relpath(mapped, dest_dir)
        if not names and not rpaths:
            return None
        try:
            check_rewrite(src, names, rpaths)  # room in the header, signable: before any write
        except RefusedError as exc:
            self.finding("error", "macho-rewrite", dest, exc.message, exc.hint)
            return None
        return SetMachO(dest, tuple(sorted(names.items())), tuple(sorted(rpaths.items())))
