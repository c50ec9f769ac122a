"""``uv-portable check``: is a folder or archive self-contained? Statically, and by running it
in a sandbox that hides the host's Python."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uv_portable.archive import output_format
from uv_portable.binaries.libs import parse_glibc_target, version_str
from uv_portable.errors import ToolError, UsageError
from uv_portable.model import Finding, finding_json
from uv_portable.sandbox import sandbox_argv, unshare_argv
from uv_portable.verify import verify_tree

STDLIB_MODULES = (
    "ssl",
    "sqlite3",
    "ctypes",
    "lzma",
    "bz2",
    "zlib",
    "decimal",
    "uuid",
    "pyexpat",
    "hashlib",
    "readline",
    "select",
    "json",
)
MOUNT = "/opt/uv-portable-check/env"
_SMOKE = r"""
import importlib, json, sys
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path}),
      flush=True)
for name in sys.argv[1:]:
    print(json.dumps({"begin": name}), flush=True)
    try:
        importlib.import_module(name)
        print(json.dumps({"module": name, "ok": True}), flush=True)
    except BaseException as exc:
        print(json.dumps({"module": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}),
              flush=True)
"""


@dataclass(frozen=True)
class RunResult:
    """What the sandboxed smoke run did."""

    sandbox: str  # "bwrap" | "unshare" | "none"
    started: bool
    failures: tuple[tuple[str, str], ...] = ()  # (module, error)
    imported: tuple[str, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the interpreter started and every module imported."""
        return self.started and not self.failures


@dataclass(frozen=True)
class CheckReport:
    """The result of checking one path."""

    path: str
    findings: tuple[Finding, ...]
    glibc: tuple[tuple[str, str], ...] = ()
    run: RunResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def glibc_floor(self) -> str | None:
        """The newest glibc any file needs."""
        if not self.glibc:
            return None
        return max((v for _, v in self.glibc), key=lambda v: tuple(map(int, v.split("."))))

    @property
    def ok(self) -> bool:
        """No error findings, and the run (if any) passed."""
        return not any(f.severity == "error" for f in self.findings) and (
            self.run is None or self.run.ok
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (for ``--json``)."""
        run = None
        if self.run is not None:
            run = {
                "sandbox": self.run.sandbox,
                "started": self.run.started,
                "ok": self.run.ok,
                "message": self.run.message,
                "imported": list(self.run.imported),
                "failures": [{"module": m, "error": e} for m, e in self.run.failures],
            }
        return {
            "path": self.path,
            "ok": self.ok,
            "glibc_floor": self.glibc_floor,
            "glibc_per_file": dict(self.glibc),
            "findings": [finding_json(f) for f in self.findings],
            "run": run,
        }


def _unsafe(name: str) -> str | None:
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../"):
        return f"member name {name!r} would be written outside the folder"
    return None


def _link_escapes(name: str, target: str, hard: bool) -> bool:
    if target.startswith("/"):
        return True
    base = "" if hard else posixpath.dirname(name)
    norm = posixpath.normpath(posixpath.join(base, target))
    return norm == ".." or norm.startswith("../")


def _extract_tar(tar: tarfile.TarFile, dest: Path, findings: list[Finding]) -> None:
    data_filter = getattr(tarfile, "data_filter", None)
    for member in tar:
        problem = _unsafe(member.name)
        is_link = member.issym() or member.islnk()
        if (
            problem is None
            and is_link
            and _link_escapes(member.name, member.linkname, member.islnk())
        ):
            problem = f"link {member.name} -> {member.linkname} points outside the archive"
        if problem is None and not (
            member.isfile() or member.isdir() or member.issym() or member.islnk()
        ):
            problem = f"{member.name} is a device or special file"
        if problem is not None:
            findings.append(
                Finding(
                    "error",
                    "unsafe-member",
                    member.name,
                    problem,
                    "rebuild the archive with uv-portable",
                )
            )
            continue
        if data_filter is not None:
            tar.extract(member, dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706; checked by hand above
            tar.extract(member, dest)


def _extract_zip(archive: Path, dest: Path, findings: list[Finding]) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            problem = _unsafe(info.filename)
            mode = info.external_attr >> 16
            if problem is None and stat.S_ISLNK(mode):
                target = zf.read(info).decode()
                if _link_escapes(info.filename.rstrip("/"), target, hard=False):
                    problem = f"link {info.filename} -> {target} points outside the archive"
                else:
                    path = dest / info.filename
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(target, path)
                    continue
            if problem is not None:
                findings.append(
                    Finding(
                        "error",
                        "unsafe-member",
                        info.filename,
                        problem,
                        "rebuild the archive with uv-portable",
                    )
                )
                continue
            zf.extract(info, dest)
            if mode and not info.is_dir():
                os.chmod(dest / info.filename, stat.S_IMODE(mode) & 0o755 | 0o600)


def extract_safely(archive: Path, dest: Path) -> list[Finding]:
    """Extract an archive into dest, skipping (and reporting) members that would escape it."""
    fmt = output_format(archive)
    findings: list[Finding] = []
    if fmt == "zip":
        _extract_zip(archive, dest, findings)
    elif fmt == "tar.zst":
        import zstandard

        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as zst,
            tarfile.open(fileobj=zst, mode="r|") as tar,
        ):
            _extract_tar(tar, dest, findings)
    else:
        with tarfile.open(archive, "r:*") as tar:
            _extract_tar(tar, dest, findings)
    return findings


@contextmanager
def _tree_of(path: Path) -> Iterator[tuple[Path, list[Finding]]]:
    if path.is_dir():
        yield path, []
        return
    if output_format(path) == "dir":
        raise UsageError(
            f"{path} is not a folder or a supported archive",
            "check a folder, or a .tar.gz, .tgz, .tar.zst, .tar or .zip file",
        )
    tmp = Path(tempfile.mkdtemp(prefix="uv-portable-check-"))
    try:
        tree = tmp / "tree"
        tree.mkdir()
        try:
            findings = extract_safely(path, tree)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise UsageError(
                f"{path} is not a readable archive: {exc}", "check that the file is complete"
            ) from exc
        yield tree, findings
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def distribution_modules(tree: Path) -> list[str]:
    """Top-level importable modules of the distributions installed in the tree."""
    names: set[str] = set()
    for site in sorted(tree.glob("lib/python3*/site-packages")):
        for dist in sorted(site.glob("*.dist-info")):
            top = dist / "top_level.txt"
            record = dist / "RECORD"
            if top.is_file():
                names.update(n.strip().replace("/", ".") for n in top.read_text().splitlines())
            elif record.is_file():
                for line in record.read_text(errors="replace").splitlines():
                    first = line.split(",", 1)[0].split("/", 1)
                    head = first[0]
                    if head.startswith("..") or head.endswith((".dist-info", ".data", ".pth")):
                        continue
                    if len(first) > 1 and first[1].endswith(("__init__.py", ".py", ".so")):
                        names.add(head)
                    elif len(first) == 1 and head.endswith((".py", ".so")):
                        names.add(head.split(".", 1)[0])
    return sorted(n for n in names if n and n.isidentifier() and n != "__pycache__")


def _sandboxed(tree: Path, modules: list[str], sandbox: str) -> tuple[str, str, list[str]]:
    """(kind, where the tree appears, command line) of the sandbox to use."""
    if sandbox in ("auto", "bwrap") and shutil.which("bwrap"):
        argv = [f"{MOUNT}/bin/python", "-I", "-B", "-c", _SMOKE, *modules]
        return "bwrap", MOUNT, sandbox_argv(tree, MOUNT, argv, readonly=True)
    if sandbox == "bwrap":
        raise ToolError(
            "cannot sandbox here: bubblewrap (bwrap) is not installed",
            "install it: apt-get install bubblewrap",
        )
    # A fresh, empty folder becomes the mount point: the tree appears at another path.
    mount = tempfile.mkdtemp(prefix="uv-portable-check-")
    argv = [f"{mount}/bin/python", "-I", "-B", "-c", _SMOKE, *modules]
    try:
        return "unshare", mount, unshare_argv(tree, mount, argv)
    except ToolError:
        os.rmdir(mount)
        raise


def _json_lines(text: str) -> list[dict[str, Any]]:
    """The probe's JSON lines; whatever else an imported module prints is ignored."""
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
    return out


def smoke_in_sandbox(tree: Path, modules: list[str], sandbox: str = "auto") -> RunResult:
    """Start the tree's interpreter where the host's Python is hidden and import modules."""
    if not (tree / "bin" / "python").exists():
        return RunResult(
            "none",
            False,
            message="the interpreter is missing: bin/python is not "
            "in the tree, so the target host would need its own Python",
        )
    try:
        kind, mount, command = _sandboxed(tree, modules, sandbox)
    except ToolError as exc:
        return RunResult("none", False, message=f"{exc.message} ({exc.hint})")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    finally:
        if kind == "unshare":
            os.rmdir(mount)
    lines = _json_lines(proc.stdout)
    if not lines or "prefix" not in lines[0]:
        tail = proc.stderr.strip().splitlines()
        return RunResult(
            kind,
            False,
            message="the interpreter did not start: "
            + (tail[-1] if tail else f"exit code {proc.returncode}"),
        )
    failures = [(ln["module"], ln["error"]) for ln in lines if ln.get("ok") is False]
    imported = tuple(ln["module"] for ln in lines if ln.get("ok") is True)
    begun = [ln["begin"] for ln in lines if "begin" in ln]
    if begun and begun[-1] not in imported and all(m != begun[-1] for m, _ in failures):
        failures.append((begun[-1], f"the interpreter crashed (exit code {proc.returncode})"))
    prefix = str(lines[0]["prefix"])
    if prefix != mount:
        return RunResult(
            kind,
            False,
            tuple(failures),
            imported,
            f"sys.prefix is {prefix}, not the tree (at {mount})",
        )
    return RunResult(kind, True, tuple(failures), imported)


def check(
    path: Path,
    *,
    run: bool = False,
    target_glibc: str | None = None,
    imports: tuple[str, ...] = (),
    skip_imports: tuple[str, ...] = (),
    sandbox: str = "auto",
) -> CheckReport:
    """Check a folder or archive: static findings, and with ``run`` a sandboxed smoke run."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise UsageError(f"{path} does not exist", "pass an exported folder or archive")
    target = parse_glibc_target(target_glibc) if target_glibc else None
    with _tree_of(path) as (tree, extraction):
        # --- Windows trees: uv_portable.windows ---
        from uv_portable.windows.verify import is_windows_tree

        if is_windows_tree(tree):
            from uv_portable.windows.check import check_windows_tree

            return check_windows_tree(
                str(path), tree, extraction, run=run, imports=imports, skip_imports=skip_imports
            )
        # --- end Windows ---
        # A folder checked in place still knows its own path: scripts naming it break on moving.
        report = verify_tree(tree, build_paths=(str(path),) if path.is_dir() else ())
        findings = [*extraction, *report.findings]
        if target is not None:
            for rel, version in report.glibc:
                if tuple(map(int, version.split("."))) > target:
                    findings.append(
                        Finding(
                            "error",
                            "glibc-too-new",
                            rel,
                            f"needs glibc {version}, newer than the target {version_str(target)}",
                            "build on (or for) an older system",
                        )
                    )
        result = None
        if run:
            modules = [
                m
                for m in (*STDLIB_MODULES, *distribution_modules(tree), *imports)
                if m not in skip_imports
            ]
            result = smoke_in_sandbox(tree, list(dict.fromkeys(modules)), sandbox)
        return CheckReport(str(path), tuple(findings), report.glibc, result)
