"""A clock that moves only when the test says: for "nothing happens within N s" tests.

Give it to the code under test where it takes a `mockloop.testing.sessions.clock.Clock` (the
scheduler reads `Scheduler.clock`); then `advance` it instead of sleeping. Sleepers whose time
has come wake on their own event loop, so a loop in another thread (the sync client's) is
woken safely. `sleeping` says how many wait on the clock right now: a cancelled runner that
no longer waits can never run again, whatever time it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

__all__ = ["ManualClock"]


@dataclass(frozen=True, eq=False)
class _Sleeper:
    wakes_at: float
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock:
    """Wall-clock and monotonic readings that change only through `advance`/`advance_to`."""

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = time.time() if start is None else start
        self._elapsed = 0.0
        self._sleepers: list[_Sleeper] = []

    def now(self) -> float:
        """Wall-clock seconds: where the clock started plus every advance."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds advanced since the clock was made."""
        with self._lock:
            return self._elapsed

    async def sleep(self, seconds: float) -> None:
        """Return once the test has advanced the clock by `seconds` (at once when <= 0)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        with self._lock:
            sleeper = _Sleeper(self._elapsed + seconds, loop, loop.create_future())
            self._sleepers.append(sleeper)
        try:
            await sleeper.future
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._sleepers.remove(sleeper)

    @property
    def sleeping(self) -> int:
        """How many coroutines wait on this clock now (cancelled waits do not count)."""
        with self._lock:
            return sum(1 for sleeper in self._sleepers if not sleeper.future.done())

    def advance(self, seconds: float) -> None:
        """Move both readings on by `seconds` and wake every sleeper whose time has come."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back: advance({seconds}) needs seconds >= 0")
        with self._lock:
            self._now += seconds
            self._elapsed += seconds
            due = [s for s in self._sleepers if s.wakes_at <= self._elapsed]
            self._sleepers = [s for s in self._sleepers if s.wakes_at > self._elapsed]
        for sleeper in due:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody to wake
                sleeper.loop.call_soon_threadsafe(_wake, sleeper.future)

    def advance_to(self, when: float) -> None:
        """Move the wall clock on to `when` (epoch seconds); nothing when it is already there."""
        self.advance(max(0.0, when - self.now()))
