"""Read a source venv: pyvenv.cfg, the base interpreter, and what it refuses to accept."""

from __future__ import annotations

import os
import re
from pathlib import Path

from uv_portable.binaries.macho import MACHO_MAGICS
from uv_portable.errors import OutputError, SourceError
from uv_portable.model import Interpreter, SourceEnv
from uv_portable.plan.scripts import parse_pyvenv_cfg
from uv_portable.process import run_capture

MIN_VERSION = (3, 9)
_HINT_CREATE = "create it with `uv venv --relocatable` and install into it with `uv pip install`"


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def detect_platform(executable: Path) -> str:
    """Tell the platform from the interpreter's own bytes, never from the host."""
    try:
        with executable.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise OutputError(f"cannot read the base interpreter {executable}: {exc.strerror}") from exc
    if magic == b"\x7fELF":
        return "linux"
    if magic in MACHO_MAGICS:
        return "macos"
    raise SourceError(
        f"{executable} is neither an ELF nor a Mach-O executable",
        "the base interpreter must be a native CPython build",
    )


def _libdir_name(venv: Path, version: tuple[int, int, int]) -> str:
    xy = f"python{version[0]}.{version[1]}"
    for candidate in (xy, xy + "t"):
        if (venv / "lib" / candidate).is_dir():
            return candidate
    raise SourceError(
        f"{venv} has no lib/{xy}/site-packages",
        "the venv looks damaged; recreate it with `uv venv --relocatable`",
    )


_GIL_DISABLED = re.compile(r"""['"]Py_GIL_DISABLED['"]\s*:\s*(\d+)""")


def gil_disabled(sysconfigdata: str) -> bool | None:
    """Whether a ``_sysconfigdata`` module says the build is free-threaded (Py_GIL_DISABLED
    set and not 0), None when it does not say."""
    match = _GIL_DISABLED.search(sysconfigdata)
    return None if match is None else match[1] != "0"


def is_free_threaded(stdlib: Path) -> bool:
    """Whether the base whose standard library is ``stdlib`` is a free-threaded build: from
    sysconfig's Py_GIL_DISABLED, else from the ``t`` of ``lib/python3.14t``."""
    for data in sorted(stdlib.glob("_sysconfigdata*.py")):
        try:
            found = gil_disabled(data.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if found is not None:
            return found
    return stdlib.name.endswith("t")


def base_version(prefix: Path, libdir: str, executable: Path) -> tuple[int, int, int] | None:
    """The base interpreter's own version: from its headers, else by asking it."""
    try:
        header = (prefix / "include" / libdir / "patchlevel.h").read_text(errors="replace")
        match = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', header)
        if match:
            return _parse_version(match[1])
    except OSError:
        pass
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    proc = run_capture([str(executable), "-I", "-S", "-c", code], timeout=60)
    if proc is None or proc.returncode != 0:
        return None
    return _parse_version(proc.stdout.strip())


def _refuse_upgraded_base(
    venv: Path, version: tuple[int, int, int], prefix: Path, libdir: str, executable: Path
) -> None:
    actual = base_version(prefix, libdir, executable)
    if actual is not None and actual != version:
        made, now = ".".join(map(str, version)), ".".join(map(str, actual))
        raise SourceError(
            f"the base interpreter of {venv} was upgraded in place: the venv was made with "
            f"Python {made}, its base {executable} is now {now}",
            "recreate the venv so that its packages match the base: "
            "`uv venv --relocatable` and reinstall (`uv sync`)",
        )


_UV_MANAGED = re.compile(r"^cpython-\d+\.\d+[^-]*-(linux|macos|darwin|windows)-")
DISTRIBUTION_PREFIXES = frozenset({"/usr"})


def base_kind(base: Interpreter) -> str:
    """How the base was installed: "uv-managed" (python-build-standalone), "distribution"
    (the OS's own python3) or "pyenv/self-built"."""
    if str(base.prefix) in DISTRIBUTION_PREFIXES:
        return "distribution"
    if _UV_MANAGED.match(base.prefix.name):
        return "uv-managed"
    if base.platform == "windows":
        return "installed (python.org or self-built)"
    return "pyenv/self-built"


def read_cpython_cfg(venv: Path) -> tuple[tuple[str, str], ...]:
    """A venv's pyvenv.cfg, checked to name CPython (Linux, macOS and Windows venvs alike)."""
    cfg_file = venv / "pyvenv.cfg"
    try:
        cfg = parse_pyvenv_cfg(cfg_file.read_text(encoding="utf-8", errors="surrogateescape"))
    except OSError as exc:
        raise OutputError(
            f"cannot read {cfg_file}: {exc.strerror}", "check its permissions"
        ) from exc
    implementation = dict(cfg).get("implementation", "CPython")
    if implementation.lower() != "cpython":
        raise SourceError(
            f"{venv} is based on {implementation}; uv-portable supports CPython only",
            "recreate the venv with a CPython interpreter (`uv venv --python cpython@3.12`)",
        )
    return cfg


def load_source(path: Path) -> SourceEnv:
    """Read a venv and locate its base interpreter; raise SourceError if unusable."""
    venv = Path(os.path.abspath(path))
    if not venv.exists():
        raise SourceError(f"source environment {venv} does not exist", _HINT_CREATE)
    cfg_file = venv / "pyvenv.cfg"
    if not venv.is_dir() or not cfg_file.is_file():
        raise SourceError(
            f"{venv} is not a virtual environment (no pyvenv.cfg)",
            "pass the venv folder (e.g. .venv); " + _HINT_CREATE,
        )
    cfg = read_cpython_cfg(venv)
    values = dict(cfg)
    version = _parse_version(values.get("version_info") or values.get("version") or "")
    if version is None:
        raise SourceError(f"{cfg_file} names no Python version", _HINT_CREATE)
    if version[:2] < MIN_VERSION:
        raise SourceError(
            f"{venv} uses Python {'.'.join(map(str, version))}; the minimum is 3.9",
            "recreate the venv with Python 3.9 or newer",
        )
    home = values.get("home")
    if not home:
        raise SourceError(f"{cfg_file} has no `home` key", _HINT_CREATE)
    libdir = _libdir_name(venv, version)
    link = venv / "bin" / "python"
    candidates = [
        link,
        Path(home) / libdir,
        Path(home) / f"python{version[0]}",
        Path(home) / "python",
    ]
    executable = next((c.resolve() for c in candidates if c.is_file()), None)
    if executable is None:
        raise SourceError(
            f"the base interpreter of {venv} is gone: home = {home} has no {libdir}",
            f"reinstall it (`uv python install {version[0]}.{version[1]}`) or recreate the venv",
        )
    if ".framework/" in str(executable):
        raise SourceError(
            f"{executable} is a macOS framework build, which uv-portable does not export",
            "use an uv-managed interpreter: `uv venv --relocatable --managed-python`",
        )
    prefix = executable.parent.parent
    if not (prefix / "lib" / libdir / "os.py").is_file():
        raise SourceError(
            f"the base interpreter {executable} has no standard library at "
            f"{prefix / 'lib' / libdir}",
            "uv-portable needs a standard CPython install layout (uv-managed, pyenv, distro)",
        )
    raw = values.get("version_info") or values.get("version") or ""
    if re.match(r"\d+\.\d+\.\d+", raw):  # a venv that recorded X.Y only cannot tell
        _refuse_upgraded_base(venv, version, prefix, libdir, executable)
    base = Interpreter(
        prefix=prefix,
        executable=executable,
        version=version,
        implementation="CPython",
        platform=detect_platform(executable),
        libdir_name=libdir,
        free_threaded=is_free_threaded(prefix / "lib" / libdir),
    )
    return SourceEnv(path=venv, real_path=venv.resolve(), cfg=cfg, base=base)
