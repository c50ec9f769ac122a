"""The wrapper through which external tools run: run_tool for tools whose failure is an error
(patchelf, uv), run_capture for facts (dpkg, an interpreter's version, the smoke runner).
Two runners stream to their child or bound each child's time themselves, and say so: the
bytecode workers (bytecode.py, paths on stdin) and Wine (windows/wine.py)."""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Mapping, Sequence

from uv_portable.errors import ToolError

log = logging.getLogger(__name__)


def run_tool(
    argv: Sequence[str],
    *,
    what: str,
    hint: str = "",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    hints: Sequence[tuple[str, str]] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a command, log it, and turn a failure into a ToolError carrying its stderr.

    ``hints`` maps a text found in the tool's output to a better hint than the default.
    """
    log.debug("run: %s", shlex.join(argv))
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, env=env, cwd=cwd, check=False
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{what}: {argv[0]} is not installed", hint) from exc
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        detail = [line for line in output.splitlines() if line.strip()]
        tail = detail[-1].strip() if detail else f"exit code {proc.returncode}"
        log.debug("stderr of %s:\n%s", argv[0], proc.stderr)
        chosen = next((h for needle, h in hints if needle in output), hint)
        raise ToolError(f"{what} failed: {tail}", chosen, output=output)
    return proc


def run_capture(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str] | None:
    """Run a command whose failure is a fact, not an error: the finished process (whatever
    its exit code), or None when it cannot start or runs past the timeout."""
    log.debug("run: %s", shlex.join(argv))
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("%s did not run: %s", argv[0], exc)
        return None
