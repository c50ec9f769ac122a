"""The one wrapper through which every external tool (patchelf, uv, ...) runs."""

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
) -> subprocess.CompletedProcess[str]:
    """Run a command, log it, and turn a failure into a ToolError carrying its stderr."""
    log.debug("run: %s", shlex.join(argv))
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, env=env, cwd=cwd, check=False
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{what}: {argv[0]} is not installed", hint) from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = detail[-1] if detail else f"exit code {proc.returncode}"
        log.debug("stderr of %s:\n%s", argv[0], proc.stderr)
        raise ToolError(f"{what} failed: {tail}", hint)
    return proc
