"""CPython 3.14 and 3.15 end to end, on Debian sid roots (the only place here that has them).

The tool is installed and run under 3.14 inside a cached sid root that has python3.14 and
python3.15; the exports run moved in a second, bare sid root with no Python at all. Both roots
are debootstrap'ed once into the test cache (about 30 s each, 330 MB and 220 MB).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers import REPO, compile_so, debian_root, run, run_sandboxed, uv, with_exec_stack

pytestmark = [pytest.mark.e2e, pytest.mark.newest]
MINORS_NEWEST = ("3.14", "3.15")
# Exact versions with cp314 and cp315 wheels (cryptography's are abi3), dependencies included.
PACKAGES = (
    "numpy==2.5.5",
    "lxml==6.2.0",
    "cryptography==50.0.2",
    "cffi==2.1.1",
    "pycparser==3.12",
    "pydantic==2.14.4",
    "pydantic-core==2.50.5",
    "annotated-types==0.8.0",
    "typing-extensions==4.16.0",
    "typing-inspection==0.4.5",
)
WORK = "/tmp/w"  # where the test's folder appears inside the sid root
MOVED = "/srv/moved/env"  # where exports run in the bare root: not where they were made
WORK_CODE = (
    "import numpy, lxml.etree as et, pydantic, ssl, sqlite3, sys\n"
    "from cryptography.fernet import Fernet\n"
    "f = Fernet(Fernet.generate_key())\n"
    "assert f.decrypt(f.encrypt(b'x')) == b'x'\n"
    "class M(pydantic.BaseModel):\n    n: int\n"
    "assert M(n='3').n == 3\n"
    "assert et.fromstring('<a><b/></a>')[0].tag == 'b'\n"
    "ssl.create_default_context()\n"
    "print(sys.prefix, '%d.%d' % sys.version_info[:2], int(numpy.arange(5).sum()))\n"
)
# A tiny distribution with a PEP 829 .start file and the legacy .pth import line beside it.
START_MODULE = (
    "import builtins\n"
    "def started():\n    builtins._demo_start = 'start'\n"
    "def legacy():\n    builtins._demo_pth = 'pth'\n"
    "def alone():\n    builtins._demo_alone = 'alone'\n"
)
SHOW_START = (
    "import builtins; print(getattr(builtins, '_demo_start', '-'), "
    "getattr(builtins, '_demo_pth', '-'), getattr(builtins, '_demo_alone', '-'))"
)


@pytest.fixture(scope="module")
def sid_python() -> Path:
    """Debian sid with python3.14 and python3.15 (and CA certificates for the index)."""
    return debian_root("sid", ("python3.14", "python3.15", "ca-certificates"))


@pytest.fixture(scope="module")
def sid_bare() -> Path:
    """Debian sid with no Python: the target."""
    root = debian_root("sid")
    assert not list((root / "usr" / "bin").glob("python*"))
    return root


def _uv_binary() -> str:
    """uv's real binary (not a shell shim), which runs inside the sid root."""
    for candidate in (os.environ.get("UV"), uv()):
        if candidate and Path(candidate).read_bytes()[:4] == b"\x7fELF":
            return candidate
    found = subprocess.run(["pyenv", "which", "uv"], capture_output=True, text=True, check=False)
    assert found.returncode == 0, "cannot find uv's binary (UV is unset and uv is a shim)"
    return found.stdout.strip()


def in_sid(root: Path, work: Path, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run argv inside the sid root (read-only), with the test folder at /tmp/w, this repo at
    /tmp/repo, uv and the host's CA bundle bound in (uv verifies the index with it)."""
    cache = Path(os.environ.get("UV_CACHE_DIR", Path.home() / ".cache" / "uv"))
    cache.mkdir(parents=True, exist_ok=True)
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    argv_ = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--ro-bind", str(root), "/"]
    argv_ += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv_ += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
    argv_ += ["--ro-bind", str(ca), "/tmp/ca.crt", "--ro-bind", _uv_binary(), "/tmp/uv"]
    argv_ += ["--bind", str(cache), "/tmp/uvcache", "--bind", str(work), WORK]
    argv_ += ["--ro-bind", str(REPO), "/tmp/repo", "--clearenv"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "SSL_CERT_FILE": "/tmp/ca.crt",
        "UV_CACHE_DIR": "/tmp/uvcache",
        "UV_LINK_MODE": "copy",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    for key, value in env.items():
        argv_ += ["--setenv", key, value]
    argv_ += ["--chdir", "/tmp", "--", *argv]
    return subprocess.run(argv_, capture_output=True, text=True, timeout=900, check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The process, after failing the test with its output when it failed."""
    assert proc.returncode == 0, (
        f"{proc.args[-3:]}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def start_wheel(folder: Path) -> Path:
    """A wheel that ships demo_start.start (PEP 829), demo_start.pth with the legacy import
    line (suppressed by the .start file from 3.15 on), demo_alone.pth with an import line of
    its own, and the module they call."""
    files = {
        "demo_start/__init__.py": START_MODULE.encode(),
        "demo_start.start": b"# PEP 829\ndemo_start:started\n",
        "demo_start.pth": b"import demo_start; demo_start.legacy()\n",
        # An import line with no .start beside it: deprecated, still run by 3.15.
        "demo_alone.pth": b"import demo_start; demo_start.alone()\n",
        "demo_start-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-start\n"
        b"Version: 1.0\n",
        "demo_start-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    wheel = folder / "demo_start-1.0-py3-none-any.whl"
    record = "".join(_record_line(n, d) for n, d in files.items())
    record += "demo_start-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("demo_start-1.0.dist-info/RECORD", record)
    return wheel


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, sid_python: Path, bwrap: str) -> Path:
    """The tool installed under 3.14 in the sid root, and a 3.14 and a 3.15 venv."""
    work = tmp_path_factory.mktemp("newest")
    requirements = run(
        [uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q"],
        cwd=REPO,
    ).stdout
    (work / "requirements.txt").write_text(requirements)
    start_wheel(work)
    script = [
        "set -e",
        f"/tmp/uv venv -q --python /usr/bin/python3.14 {WORK}/tool",
        f"/tmp/uv pip install -q --python {WORK}/tool/bin/python "
        f"-r {WORK}/requirements.txt /tmp/repo",
    ]
    for minor in MINORS_NEWEST:
        script += [
            f"/tmp/uv venv -q --relocatable --python /usr/bin/python{minor} {WORK}/venv{minor}",
            f"/tmp/uv pip install -q --only-binary :all: --python {WORK}/venv{minor}/bin/python "
            f"{' '.join(PACKAGES)} {WORK}/demo_start-1.0-py3-none-any.whl",
        ]
    ok(in_sid(sid_python, work, ["sh", "-c", "\n".join(script)]))
    return work


def tool(root: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The tool, run under 3.14 inside the sid root."""
    return in_sid(root, work, [f"{WORK}/tool/bin/uv-portable", *args])


@pytest.mark.parametrize("minor", MINORS_NEWEST)
def test_newest_cpython_exports_run_moved_in_bare_sid(
    minor: str, work: Path, sid_python: Path, sid_bare: Path
) -> None:
    version = ok(
        in_sid(
            sid_python, work, [f"{WORK}/tool/bin/python", "-c", "import sys; print(sys.version)"]
        )
    )
    assert version.stdout.startswith("3.14.")
    for out in (f"env{minor}", f"env{minor}.tar.gz"):
        ok(tool(sid_python, work, "export", f"{WORK}/venv{minor}", f"{WORK}/{out}"))
        checked = ok(tool(sid_python, work, "check", "--run", f"{WORK}/{out}"))
        assert "self-contained" in checked.stdout + checked.stderr
    # Debian's site.py reads dist-packages only: the export's hook into site-packages is a
    # PEP 829 .start file from 3.15 on, a .pth import line before.
    hook = work / f"env{minor}" / "lib" / f"python{minor}" / "dist-packages" / "_uv_portable_site"
    assert hook.with_suffix(".start" if minor >= "3.15" else ".pth").is_file()
    unpacked = work / f"unpacked{minor}"
    unpacked.mkdir()
    run(["tar", "-xzf", str(work / f"env{minor}.tar.gz"), "-C", str(unpacked)])
    for tree in (work / f"env{minor}", unpacked):
        proc = run_sandboxed(
            tree, [f"{MOVED}/bin/python", "-c", WORK_CODE], mount_at=MOVED, rootfs=sid_bare
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [MOVED, minor, "10"]
        # PEP 829: 3.15 runs the .start entry point and suppresses the matching .pth's import
        # line; 3.14 knows no .start files and runs the import line. Both run an import line
        # that has no .start beside it.
        proc = run_sandboxed(
            tree, [f"{MOVED}/bin/python", "-c", SHOW_START], mount_at=MOVED, rootfs=sid_bare
        )
        assert proc.returncode == 0, proc.stderr
        expected = "start - alone" if minor >= "3.15" else "- pth alone"
        assert proc.stdout.strip() == expected, proc.stdout + proc.stderr


@pytest.mark.parametrize("minor", MINORS_NEWEST)
def test_negative_control_raw_venv_fails_in_bare_sid(
    minor: str, work: Path, sid_python: Path, sid_bare: Path
) -> None:
    # The source venv does the work in the sid root that has Python ...
    proc = in_sid(sid_python, work, [f"{WORK}/venv{minor}/bin/python", "-c", WORK_CODE])
    assert ok(proc).stdout.split()[1:] == [minor, "10"]
    # ... and, moved into the bare root, it cannot even start.
    raw = run_sandboxed(
        work / f"venv{minor}",
        [f"{MOVED}/bin/python", "-c", WORK_CODE],
        mount_at=MOVED,
        rootfs=sid_bare,
    )
    assert raw.returncode != 0
    assert "No such file or directory" in raw.stderr, raw.stderr


def test_glibc_of_sid_refuses_to_dlopen_an_executable_stack(
    work: Path, sid_python: Path, tmp_path: Path
) -> None:
    """What the exec-stack warning says of glibc 2.41 and newer, checked on sid's."""
    clean = compile_so(work / "libclean.so", "int f(void){return 1;}")
    (work / "libstack.so").write_bytes(with_exec_stack(clean))
    load = "import ctypes, sys; ctypes.CDLL(sys.argv[1]); print('loaded')"
    proc = in_sid(sid_python, work, ["python3.15", "-c", load, f"{WORK}/libclean.so"])
    assert ok(proc).stdout.strip() == "loaded"
    proc = in_sid(sid_python, work, ["python3.15", "-c", load, f"{WORK}/libstack.so"])
    assert proc.returncode != 0
    assert "cannot enable executable stack" in proc.stderr, proc.stderr
