"""The sandbox is probed, never assumed (issue 19): the choice, its wording, and bwrap's own
failures told apart from the tree's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from uv_portable.errors import ToolError
from uv_portable.prove import sandbox
from uv_portable.prove.sandbox import Sandbox, choose_sandbox, sandbox_failure
from uv_portable.settings import SandboxRequest

ENOSPC = (
    "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces "
    "exceeded (ENOSPC)"
)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (ENOSPC + "\n", ENOSPC),
        (
            "bwrap: setting up uid map: Permission denied\n",
            "bwrap: setting up uid map: Permission denied",
        ),
        # The sandbox is up; the tree's interpreter is what cannot start.
        ("bwrap: execvp /opt/env/bin/python: No such file or directory\n", None),
        ("Fatal Python error: init_fs_encoding\n", None),
        ("", None),
    ],
)
def test_sandbox_failure(stderr: str, expected: str | None) -> None:
    assert sandbox_failure(stderr) == expected


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (Sandbox("bwrap"), "with bwrap (the host's Python hidden)"),
        (Sandbox("unshare", ("bwrap: x",)), "with unshare (the host's Python hidden)"),
        (Sandbox("none", requested="none"), "without isolation (--sandbox none)"),
        (
            Sandbox("none", ("bwrap: x", "unshare: needs root")),
            "without isolation: this host cannot create namespaces (bwrap: x; unshare: needs root)",
        ),
        (
            Sandbox(
                "none", ("bwrap: not installed (apt-get install bubblewrap)", "unshare: needs root")
            ),
            "without isolation: no sandbox is available here "
            "(bwrap: not installed (apt-get install bubblewrap); unshare: needs root)",
        ),
    ],
)
def test_describe(chosen: Sandbox, expected: str) -> None:
    assert chosen.describe() == expected


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str | None]]:
    """A host whose bwrap and unshare work or fail as the test says."""
    state: dict[str, str | None] = {"bwrap": None, "unshare": None}
    monkeypatch.setattr(sandbox, "_bwrap_fails", lambda: state["bwrap"])
    monkeypatch.setattr(sandbox, "_unshare_fails", lambda: state["unshare"])
    choose_sandbox.cache_clear()
    yield state
    choose_sandbox.cache_clear()


@pytest.mark.parametrize(
    ("bwrap", "unshare", "request_", "kind", "why_not"),
    [
        (None, None, "auto", "bwrap", ()),
        (ENOSPC, None, "auto", "unshare", (ENOSPC,)),
        (ENOSPC, "unshare: needs root", "auto", "none", (ENOSPC, "unshare: needs root")),
        (ENOSPC, None, "unshare", "unshare", ()),
        (None, None, "none", "none", ()),
    ],
)
def test_choose_sandbox_tries_each_in_turn(
    host: dict[str, str | None],
    bwrap: str | None,
    unshare: str | None,
    request_: SandboxRequest,
    kind: str,
    why_not: tuple[str, ...],
) -> None:
    host.update(bwrap=bwrap, unshare=unshare)
    chosen = choose_sandbox(request_)
    assert (chosen.kind, chosen.why_not) == (kind, why_not)


@pytest.mark.parametrize("request_", ["bwrap", "unshare"])
def test_an_explicit_sandbox_that_cannot_start_is_the_hosts_error(
    host: dict[str, str | None], request_: SandboxRequest
) -> None:
    host.update(bwrap=ENOSPC, unshare="unshare: needs root")
    with pytest.raises(ToolError, match="cannot sandbox here") as caught:
        choose_sandbox(request_)
    assert caught.value.exit_code == 6  # an I/O or tool failure, not "verification failed"


def test_the_real_probe_runs_here() -> None:
    """On this machine (root, bwrap installed) both sandboxes start."""
    choose_sandbox.cache_clear()
    assert choose_sandbox("bwrap").kind == "bwrap"
    assert choose_sandbox("unshare").kind == "unshare"
    choose_sandbox.cache_clear()
