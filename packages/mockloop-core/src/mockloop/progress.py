"""Progress of long operations, reported to whichever face called them.

An operation calls `await report_progress(done, total, message)`; a face installs a receiver
for the duration of a call with `progress_to(callback)`: the MCP server forwards progress as
MCP progress notifications, the CLI draws a progress bar. Without a receiver a report costs a
ContextVar lookup. A failing receiver never fails the operation.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["ProgressCallback", "progress_to", "report_progress"]

logger = logging.getLogger("mockloop.progress")

ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None] | None]

_RECEIVER: ContextVar[ProgressCallback | None] = ContextVar("mockloop_progress", default=None)


@contextmanager
def progress_to(callback: ProgressCallback | None) -> Iterator[None]:
    """Within the block, `report_progress` calls go to `callback` (sync or async)."""
    token = _RECEIVER.set(callback)
    try:
        yield
    finally:
        _RECEIVER.reset(token)


async def report_progress(
    done: float, total: float | None = None, message: str | None = None
) -> None:
    """Report that `done` of `total` units are complete (total None: unknown)."""
    receiver = _RECEIVER.get()
    if receiver is None:
        return
    try:
        outcome = receiver(done, total, message)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:  # progress is advisory: never fail the operation over it
        logger.warning("progress report failed: %s: %s", type(exc).__name__, exc)
