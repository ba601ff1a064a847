"""A circuit breaker for the upstream: closed, open after consecutive failures, half-open for
one trial call once the reset timeout has passed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from mockloop.proxy.settings import CircuitSettings

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive upstream failures; refuses calls while open.

    Args:
        settings: threshold and reset timeout (threshold 0: never opens).
        clock: monotonic seconds.
    """

    def __init__(
        self, settings: CircuitSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.state: CircuitState = "closed"
        self.failures = 0
        self.opened_at: float | None = None
        self.times_opened = 0
        self._trial_running = False

    def allow(self) -> bool:
        """Whether a call may go upstream now (an open circuit lets one trial through once its
        reset timeout has passed)."""
        if self.state == "closed":
            return True
        if self.state == "open":
            assert self.opened_at is not None
            if self.clock() - self.opened_at < self.settings.reset_timeout_s:
                return False
            self.state = "half_open"
            self._trial_running = False
        if self._trial_running:
            return False
        self._trial_running = True
        return True

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial call through."""
        if self.state != "open" or self.opened_at is None:
            return 0.0
        return max(0.0, self.settings.reset_timeout_s - (self.clock() - self.opened_at))

    def success(self) -> None:
        self.state = "closed"
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self.failures += 1
        threshold = self.settings.failure_threshold
        if self.state == "half_open" or (threshold and self.failures >= threshold):
            if self.state != "open":
                self.times_opened += 1
            self.state = "open"
            self.opened_at = self.clock()
        self._trial_running = False

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "consecutive_failures": self.failures,
            "failure_threshold": self.settings.failure_threshold,
            "reset_timeout_s": self.settings.reset_timeout_s,
            "retry_in_s": round(self.retry_in(), 3),
            "times_opened": self.times_opened,
        }
