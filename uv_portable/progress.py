"""Progress reporting as the pipeline sees it: an optional factory of byte counters."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

Advance = Callable[[int], None]  # called with bytes (or files) done since the last call
# Given a label and a total, a context manager yielding an Advance callback.
ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager[Advance]]


@contextlib.contextmanager
def progress_bar(
    factory: ProgressFactory | None, label: str, total: int
) -> Iterator[Advance | None]:
    """A bar from the factory, or None when there is none (not a terminal, or the API)."""
    if factory is None:
        yield None
        return
    with factory(label, total) as advance:
        yield advance
