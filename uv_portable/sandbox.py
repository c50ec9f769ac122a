"""Run a command where the host's Python cannot be reached (bubblewrap).

The root is built from nothing: the host's shared-library folder (with every libpython
masked), a shell and a few coreutils for scripts, and the tree under test. With ``rootfs``
(for example a debootstrap'ed Debian), that root is used instead of the host's libraries.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from uv_portable.errors import ToolError

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
    lines = [
        "set -e",
        f"mkdir -p {q(mount_at)}",
        f"mount --bind {q(str(tree))} {q(mount_at)}",
        f"mount -o remount,bind,ro {q(mount_at)}",  # checking never writes into the tree
        f"mount -t tmpfs none {q(str(tree))}",
    ]
    lines += [f"mount --bind /dev/null {q(f)}" for f in files]  # before their folders vanish
    lines += [f"mount -t tmpfs none {q(d)}" for d in folders]
    lines.append('exec "$@"')
    return [unshare, "-m", "--propagation", "private", "sh", "-c", "\n".join(lines), "sh", *argv]
