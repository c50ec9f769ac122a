"""Run a command where the host's Python cannot be reached (bubblewrap, else unshare).

The root is built from nothing: the host's shared-library folder (with every libpython
masked), a shell and a few coreutils for scripts, and the tree under test. With ``rootfs``
(for example a debootstrap'ed Debian), that root is used instead of the host's libraries.

Which sandbox works is probed, never assumed (``choose_sandbox``): a container without
nested namespaces has bwrap installed but cannot start it.
"""

from __future__ import annotations

import functools
import glob
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from uv_portable.errors import ToolError
from uv_portable.process import run_capture
from uv_portable.settings import SandboxRequest

SandboxKind = Literal["bwrap", "unshare", "none"]
# unshare's set-up script exits with this when a mount fails, before the command runs.
UNSHARE_SETUP_FAILED = 125
_PROBE_TIMEOUT = 30.0

# Commands that relocatable scripts and activate need: /bin/sh, realpath, dirname.
HOST_COMMANDS = ("sh", "dash", "bash", "realpath", "dirname", "env", "cat", "ls", "true", "uname")
_HOST_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64")


def bwrap_path() -> str:
    """The bubblewrap binary, or a ToolError saying how to get it."""
    found = shutil.which("bwrap")
    if found is None:
        raise ToolError(
            "cannot sandbox here: bubblewrap (bwrap) is not installed",
            "install it: apt-get install bubblewrap",
        )
    return found


def _host_root_args() -> list[str]:
    args: list[str] = []
    for lib in _HOST_LIB_DIRS:
        if os.path.isdir(lib):
            args += ["--ro-bind", lib, lib]
    # The distro's libpython could stand in for a missing one: hide every copy.
    for lib in _HOST_LIB_DIRS:
        for masked in sorted(glob.glob(f"{lib}/libpython3*")):
            if os.path.isfile(masked) and not os.path.islink(masked):
                args += ["--ro-bind", "/dev/null", masked]
    args += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin"]
    if os.path.isdir("/usr/lib64"):
        args += ["--symlink", "usr/lib64", "/lib64"]
    for name in HOST_COMMANDS:
        real = shutil.which(name, path="/usr/bin:/bin")
        if real is not None:
            args += ["--ro-bind", os.path.realpath(real), f"/usr/bin/{name}"]
    return args


def _rootfs_args(rootfs: Path, mount_at: str) -> list[str]:
    """Bind a root file system's top-level entries read-only; the folder that will hold
    the tree becomes a writable tmpfs so its mount point can be made."""
    top = mount_at.strip("/").split("/", 1)[0]
    args = ["--tmpfs", "/"]
    for entry in sorted(rootfs.iterdir()):
        if entry.name in (top, "proc", "dev", "tmp"):
            continue
        if entry.is_symlink():
            args += ["--symlink", os.readlink(entry), f"/{entry.name}"]
        else:
            args += ["--ro-bind", str(entry), f"/{entry.name}"]
    args += ["--tmpfs", f"/{top}"]
    return args


def sandbox_argv(
    tree: Path,
    mount_at: str,
    argv: Sequence[str],
    *,
    rootfs: Path | None = None,
    binds: Sequence[tuple[Path, str]] = (),
    env: Mapping[str, str] | None = None,
    readonly: bool = False,
) -> list[str]:
    """The bwrap command line that runs argv with tree mounted at mount_at."""
    args = [bwrap_path(), "--die-with-parent", "--unshare-all", "--clearenv"]
    if rootfs is not None:
        args += _rootfs_args(rootfs, mount_at)
    else:
        args += _host_root_args()
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += ["--ro-bind" if readonly else "--bind", str(tree), mount_at]
    for src, dest in binds:
        args += ["--ro-bind", str(src), dest]
    merged = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    merged.update(env or {})
    for key, value in sorted(merged.items()):
        args += ["--setenv", key, value]
    args += ["--chdir", "/tmp", "--", *argv]
    return args


def hidden_python_paths() -> tuple[list[str], list[str]]:
    """Folders and files where a host keeps Python: hidden by the unshare sandbox."""
    home = os.path.expanduser("~")
    folders = [
        os.environ.get("PYENV_ROOT", os.path.join(home, ".pyenv")),
        os.environ.get("UV_PYTHON_INSTALL_DIR", os.path.join(home, ".local/share/uv/python")),
        *glob.glob("/usr/lib/python3*"),
        *glob.glob("/usr/local/lib/python3*"),
        *glob.glob("/opt/python*"),
        *glob.glob("/usr/lib/x86_64-linux-gnu/libpython3*"),
    ]
    files = [
        *glob.glob("/usr/bin/python3*"),
        *glob.glob("/usr/local/bin/python3*"),
        *glob.glob("/usr/lib/x86_64-linux-gnu/libpython3*"),
    ]
    real_files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]
    return [f for f in folders if os.path.isdir(f)], real_files


def unshare_argv(tree: Path, mount_at: str, argv: Sequence[str]) -> list[str]:
    """As root without bubblewrap: a private mount namespace where the host's Python folders
    are empty tmpfs, its python binaries are /dev/null, and the tree appears at mount_at
    (its original path hidden too, so that nothing can lean on it)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        raise ToolError(
            "cannot sandbox here: neither bubblewrap nor (as root) unshare is available",
            "install bubblewrap (apt-get install bubblewrap), or run as root",
        )
    folders, files = hidden_python_paths()
    q = shlex.quote
    steps = [
        f"mkdir -p {q(mount_at)}",
        f"mount --bind {q(str(tree))} {q(mount_at)}",
        f"mount -o remount,bind,ro {q(mount_at)}",  # checking never writes into the tree
        f"mount -t tmpfs none {q(str(tree))}",
    ]
    steps += [f"mount --bind /dev/null {q(f)}" for f in files]  # before their folders vanish
    steps += [f"mount -t tmpfs none {q(d)}" for d in folders]
    # A failed step is the sandbox's failure, told apart from the command's by its exit code.
    lines = [f"{step} || exit {UNSHARE_SETUP_FAILED}" for step in steps]
    lines.append('exec "$@"')
    return [unshare, "-m", "--propagation", "private", "sh", "-c", "\n".join(lines), "sh", *argv]


@dataclass(frozen=True)
class Sandbox:
    """The isolation a run will use, and why stronger ones were passed over."""

    kind: SandboxKind
    why_not: tuple[str, ...] = ()  # "bwrap: Creating new namespace failed ...", ...
    requested: SandboxRequest = "auto"

    def describe(self) -> str:
        """How a run was isolated, for messages: "with bwrap", "without isolation: ..."."""
        if self.kind != "none":
            return f"with {self.kind} (the host's Python hidden)"
        if self.requested == "none":
            return "without isolation (--sandbox none)"
        reasons = "; ".join(self.why_not)
        if all(reason.endswith(_ABSENT) for reason in self.why_not):
            return f"without isolation: no sandbox is available here ({reasons})"
        return f"without isolation: this host cannot create namespaces ({reasons})"


# How a sandbox's reason ends when it is absent rather than unable to start.
_ABSENT = ("not installed", "not installed (apt-get install bubblewrap)", "needs root")


def sandbox_failure(stderr: str) -> str | None:
    """bwrap's own complaint in a command's stderr (the sandbox did not start), or None.
    ``bwrap: execvp X`` is not one: the sandbox is up, the tree's command cannot start."""
    for line in stderr.splitlines():
        if line.startswith("bwrap: ") and not line.startswith("bwrap: execvp "):
            return line.strip()
    return None


def _bwrap_fails() -> str | None:
    """Why bwrap cannot run a trivial command with the flags a run uses, or None if it can."""
    if shutil.which("bwrap") is None:
        return "bwrap: not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="uv-portable-sandbox-") as tree:
        argv = sandbox_argv(Path(tree), "/opt/uv-portable-probe/env", ["true"], readonly=True)
        proc = run_capture(argv, timeout=_PROBE_TIMEOUT)
    if proc is None:
        return "bwrap: did not start"
    if proc.returncode != 0:
        return sandbox_failure(proc.stderr) or f"bwrap: exit code {proc.returncode}"
    return None


def _unshare_fails() -> str | None:
    """Why unshare cannot make a private mount namespace and mount in it, or None."""
    if os.geteuid() != 0:
        return "unshare: needs root"
    if shutil.which("unshare") is None:
        return "unshare: not installed"
    with tempfile.TemporaryDirectory(prefix="uv-portable-sandbox-") as folder:
        proc = run_capture(
            unshare_argv(Path(folder), f"{folder}/at", ["true"]), timeout=_PROBE_TIMEOUT
        )
    if proc is None:
        return "unshare: did not start"
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()
        return f"unshare: {tail[-1] if tail else f'exit code {proc.returncode}'}"
    return None


@functools.cache
def choose_sandbox(request: SandboxRequest = "auto") -> Sandbox:
    """The sandbox to use, each candidate tried with a trivial command first: bwrap, then
    unshare (as root), then none for ``auto``. An explicit request that cannot start is a
    ToolError (the host's problem, never the tree's)."""
    if request == "none":
        return Sandbox("none", requested="none")
    why_not: list[str] = []
    candidates: tuple[tuple[SandboxKind, Callable[[], str | None]], ...] = (
        ("bwrap", _bwrap_fails),
        ("unshare", _unshare_fails),
    )
    for kind, fails in candidates:
        if request not in ("auto", kind):
            continue
        reason = fails()
        if reason is None:
            return Sandbox(kind, tuple(why_not), request)
        why_not.append(reason)
    if request != "auto":
        raise ToolError(
            f"cannot sandbox here: {why_not[0]}",
            "use --sandbox auto (which falls back to running in place) or --sandbox none",
        )
    return Sandbox("none", tuple(why_not), "auto")
