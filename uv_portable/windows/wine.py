"""Run Windows programs headless under Wine (8.0, Debian 12), with the workarounds it needs.

Why each step: a Python whose standard stream is a regular file dies at start-up (pipes
only); Wine's helper processes inherit the caller's pipes and keep them open, so a persistent
server is started and primed with every stream on /dev/null, and ended with ``wineserver -k``;
the debugger would hang forever on a crash; WMI queries (``platform``) would hang on Wine 8.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from uv_portable.errors import ToolError

OVERRIDES = "mscoree,mshtml,winedbg.exe,winemenubuilder.exe,wbemprox="
_READY = ".uv-portable-ready"
_REG = (
    ("add", "HKCU\\Software\\Wine\\Drivers", "/v", "Graphics", "/d", "null", "/f"),
    ("add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"),
    ("delete", "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug", "/v",
     "Debugger", "/f"),
)  # fmt: skip


def wine() -> str | None:
    """The wine command, if installed."""
    return shutil.which("wine")


def wineserver() -> str:
    """The wineserver command (Debian keeps it out of PATH)."""
    return shutil.which("wineserver") or "/usr/lib/wine/wineserver"


def default_prefix() -> Path:
    """uv-portable's own Wine prefix: it holds no Windows Python to be found by accident."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "uv-portable" / "wine-prefix"


def winpath(path: Path) -> str:
    """The Windows spelling of a local path, through Wine's Z: drive."""
    return "Z:" + os.path.realpath(path).replace("/", "\\")


def wine_env(prefix: Path) -> dict[str, str]:
    """The environment for Wine commands on one prefix, headless and quiet."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        WINEPREFIX=str(prefix), WINEARCH="win64", WINEDEBUG="-all", WINEDLLOVERRIDES=OVERRIDES
    )
    return env


def _quiet(argv: Sequence[str], env: dict[str, str], timeout: float = 300) -> int:
    proc = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        timeout=timeout,
        check=False,
    )
    return proc.returncode


def prepare_prefix(prefix: Path) -> dict[str, str]:
    """Create (once) a 64-bit prefix with the settings above; return its environment."""
    command = wine()
    if command is None:
        raise ToolError(
            "wine is not installed",
            "install it: apt-get install -y --no-install-recommends wine64 wine",
        )
    env = wine_env(prefix)
    if not (prefix / _READY).is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        if _quiet([command, "wineboot", "--init"], env) != 0:
            raise ToolError(f"wineboot could not create the Wine prefix {prefix}")
        _quiet([wineserver(), "-w"], env)
        for args in _REG:
            _quiet([command, "reg", *args], env)
        _quiet([wineserver(), "-w"], env)
        (prefix / _READY).touch()
    return env


@contextmanager
def wine_session(prefix: Path) -> Iterator[dict[str, str]]:
    """A running wineserver for the prefix, ended (with everything it started) on exit."""
    env = prepare_prefix(prefix)
    try:
        _quiet([wineserver(), "-p", "600"], env)
        _quiet([str(wine()), "cmd", "/c", "exit", "0"], env)
        yield env
    finally:
        _quiet([wineserver(), "-k"], env, timeout=60)


def run_windows(
    argv: Sequence[str],
    env: dict[str, str] | None,
    *,
    cwd: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a Windows program (under Wine unless this is Windows); output through pipes."""
    command = list(argv) if os.name == "nt" or env is None else [str(wine()), *argv]
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
