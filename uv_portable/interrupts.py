"""Ctrl-C and SIGTERM tell the truth: until the output is published they unwind as
``Interrupted`` (the staging folder is removed, exit 130, "nothing was written"); from the
moment publishing starts the export has succeeded, and a signal is only remembered.

Cleanup after an interrupt runs deferred too, so a second Ctrl-C cannot leave half of it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

from uv_portable.errors import Interrupted


class _State:
    """Whether signals are deferred now, and the one that arrived meanwhile."""

    def __init__(self) -> None:
        self.deferring = 0
        self.received: int | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.deferring:
        _state.received = signum
        return
    raise Interrupted(signal.Signals(signum).name)


def install() -> None:
    """Route SIGINT (unless it is ignored, as in background jobs) and SIGTERM to the handler;
    only from the main thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


@contextlib.contextmanager
def deferred(*, raise_after: bool = False) -> Iterator[None]:
    """A section that signals do not interrupt (publishing, cleanup, starting a thread); they
    are remembered, and with ``raise_after`` raised as Interrupted once the section is over.
    Only the main thread's sections count: Python runs signal handlers there alone, so a worker
    thread's section must neither hold a signal back from the main thread nor raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if raise_after and not _state.deferring and _state.received is not None:
        raise Interrupted(signal.Signals(take_received() or signal.SIGINT).name)


class ThreadPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose thread start-up a signal cannot split: the executor adds a
    new thread to the set that shutdown() joins only after the thread has started, so an
    interrupt in between would leave a worker running (and writing into a staging folder that
    is being removed) after shutdown(wait=True) has returned."""

    def _adjust_thread_count(self) -> None:
        with deferred(raise_after=True):
            super()._adjust_thread_count()

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> bool | None:
        """On the way out of an error or an interrupt nothing queued starts, and what runs is
        waited for without a second Ctrl-C cutting in: no worker outlives the pool."""
        with deferred():
            self.shutdown(wait=True, cancel_futures=exc_type is not None)
        return None


def take_received() -> int | None:
    """The signal that arrived while deferred (and forget it), or None."""
    received, _state.received = _state.received, None
    return received
