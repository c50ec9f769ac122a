"""interrupts.deferred: the main thread's sections hold signals back; a worker thread's never
do (signal handlers run in the main thread only)."""

from __future__ import annotations

import threading

import pytest

from uv_portable import interrupts
from uv_portable.errors import Interrupted


def test_a_worker_threads_section_holds_nothing_back() -> None:
    seen: list[int] = []

    def worker() -> None:
        with interrupts.deferred(raise_after=True):
            seen.append(interrupts._state.deferring)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [0]


def test_the_main_threads_section_remembers_and_raises_after() -> None:
    with pytest.raises(Interrupted), interrupts.deferred(raise_after=True):
        assert interrupts._state.deferring == 1
        interrupts._handler(2, None)  # as if Ctrl-C came now: remembered, not raised
    assert interrupts._state.deferring == 0 and interrupts.take_received() is None


def test_a_section_without_raise_after_only_remembers() -> None:
    with interrupts.deferred():
        interrupts._handler(15, None)
    assert interrupts.take_received() == 15
