"""The clock a schedule runner reads and waits on: the system's, unless it is given another.

Due times are wall-clock seconds (`now`), the grace a cancelled test gets is measured on a
monotonic clock (`monotonic`), and a runner waits between checks with `sleep`. A test hands the
scheduler a clock that moves only when the test advances it, so "nothing runs after a cancel"
is shown by moving time on, not by waiting real seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """What a schedule runner needs of time: two readings and a way to wait."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch (due times are in these)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for grace periods)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The real clock: `time.time`, `time.monotonic` and `asyncio.sleep`."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on the system's monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running event loop."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
