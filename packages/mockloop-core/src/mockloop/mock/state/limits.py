"""Stateful mode's bounds: items per collection, bytes for everything, live sessions, ids.

* A collection (in the shared data or in one session's copy) holds at most `max_items` items.
* Everything the mock holds (every collection of the seed, the shared data and every session's
  copy) is charged at most `max_bytes` bytes: each item its JSON size plus an estimate of
  Python's overhead (`state_data.item_charge`), each partition a fixed amount. A session
  shares the seed's collections until it changes one, and only that copy is charged. This is
  what bounds the memory stateful mode takes, whatever clients send.
* A write past either is refused with 409 (the data's state conflicts with the request:
  delete or reset, then retry); nothing stored is lost.
* With session isolation at most `max_sessions` sessions are live. A session unused for
  `session_idle_seconds` is evicted (its data is gone) when a write needs room or passes by.
  A session in use is never evicted to make room: when every live session is fresher than the
  idle limit, a request that would start a new one is refused with 429 and a `Retry-After`
  saying when the least recently used session becomes idle. So a stranger cycling fresh
  `X-Session-ID` values can fill free slots but never wipe a live session.
* An `X-Session-ID` value is 1-128 characters from `A-Z a-z 0-9 . _ ~ : @ + / = -`; another is
  refused with 400.

Every eviction and refusal is counted (`StateLimits.summary`, shown in the admin `/health`).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from mockloop.errors import ConfigError
from mockloop.mock.problem import PreparedResponse, problem
from mockloop.mock.state.data import Partitions, StateMemory

__all__ = ["SESSION_ID_RULE", "StateLimitError", "StateLimits", "check_session_id"]

logger = logging.getLogger("mockloop.mock")

SESSION_ID_RULE = "1-128 characters from A-Z a-z 0-9 and . _ ~ : @ + / = -"
_SESSION_ID = re.compile(r"[A-Za-z0-9._~:@+/=-]{1,128}")


class StateLimitError(ConfigError):
    """Raised when a stateful write would pass a bound (items in a collection, bytes of all the
    data, live sessions) or names a malformed session id. `status`, `title`, `headers` and
    `fields` make the problem+json it is answered with."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        title: str,
        headers: list[tuple[bytes, bytes]] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.headers = headers or []
        self.fields = fields

    def problem(self) -> PreparedResponse:
        """The problem+json response for the business port."""
        prepared = problem(
            self.status, str(self), title=self.title, headers=self.headers, **self.fields
        )
        prepared.source = "state"
        return prepared


def check_session_id(value: str) -> None:
    """Refuse a session id outside `SESSION_ID_RULE` (StateLimitError, status 400)."""
    if _SESSION_ID.fullmatch(value) is None:
        shown = value[:40] + ("..." if len(value) > 40 else "")
        raise StateLimitError(
            f"X-Session-ID must be {SESSION_ID_RULE}; got {len(value)} character(s): {shown!r}",
            status=400,
            title="Bad Request",
            header="X-Session-ID",
        )


@dataclass
class StateLimits:
    """The bounds of one stateful store and how often each was hit."""

    max_items: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_sessions: int = 1000
    session_idle_seconds: float = 1800.0
    evicted_idle: int = 0
    refused_sessions: int = 0
    refused_items: int = 0
    refused_bytes: int = 0
    refused_session_ids: int = 0

    def check_item(self, name: str, partitions: Partitions, added: int, grown: int) -> None:
        """Refuse a write that adds `added` items (0 or 1) to a collection and `grown` charged
        bytes to the data when it would pass a bound (StateLimitError, status 409)."""
        if added and partitions.count + added > self.max_items:
            self.refused_items += 1
            raise StateLimitError(
                f"collection {name!r} holds {partitions.count} items, the most this mock keeps "
                f"(state_max_items {self.max_items}); nothing was stored. Delete items, reset "
                "the data (POST /api/state/reset on the admin port) or start the mock with a "
                "larger --state-max-items",
                status=409,
                title="Collection Full",
                collection=name,
                limit="state_max_items",
                max_items=self.max_items,
                flag="--state-max-items",
            )
        held = partitions.ledger.held if partitions.ledger is not None else partitions.charged
        self.check_bytes(name, held, grown)

    def check_bytes(self, name: str, held: int, grown: int) -> None:
        """Refuse a write to collection `name` that adds `grown` charged bytes when the data
        already holds `held` and the sum passes `max_bytes` (StateLimitError, status 409)."""
        if grown <= 0 or held + grown <= self.max_bytes:
            return
        self.refused_bytes += 1
        raise StateLimitError(
            f"the stateful data would take {held + grown} bytes (the JSON of every item of "
            "every collection and session, plus overhead), more than this mock keeps "
            f"(state_max_bytes {self.max_bytes}); nothing was stored in {name!r}. Delete "
            "items, reset the data (POST /api/state/reset on the admin port), let idle "
            "sessions expire (--state-session-idle) or start the mock with a larger "
            "--state-max-bytes",
            status=409,
            title="State Full",
            collection=name,
            limit="state_max_bytes",
            max_bytes=self.max_bytes,
            flag="--state-max-bytes",
        )

    def expire(self, memory: StateMemory) -> list[str]:
        """Evict the sessions idle longer than the limit (least recently used first)."""
        evicted: list[str] = []
        while memory.sessions:
            oldest = next(iter(memory.sessions))
            if memory.idle_for(oldest) <= self.session_idle_seconds:
                break
            memory.forget(oldest)
            evicted.append(oldest)
        if evicted:
            self.evicted_idle += len(evicted)
            logger.info(
                "stateful mock: %s session(s) idle over %s s evicted",
                len(evicted),
                self.session_idle_seconds,
            )
        return evicted

    def admit(self, memory: StateMemory, session: str) -> None:
        """Make room for a new session: evict idle ones; when none is idle and the cap is
        reached, refuse (StateLimitError, status 429, with Retry-After)."""
        self.expire(memory)
        if len(memory.sessions) < self.max_sessions:
            return
        self.refused_sessions += 1
        oldest = next(iter(memory.sessions))
        wait = max(1, math.ceil(self.session_idle_seconds - memory.idle_for(oldest)))
        raise StateLimitError(
            f"{len(memory.sessions)} sessions are live, the most this mock keeps "
            f"(state_max_sessions {self.max_sessions}), and none has been idle for "
            f"{self.session_idle_seconds:g} s, so the new session {session[:40]!r} is "
            f"refused; retry in {wait} s, or start the mock with a larger "
            "--state-max-sessions (or a shorter --state-session-idle)",
            status=429,
            title="Too Many Sessions",
            headers=[(b"retry-after", str(wait).encode())],
            limit="state_max_sessions",
            max_sessions=self.max_sessions,
            flag="--state-max-sessions",
            retry_after=wait,
        )

    def summary(self, memory: StateMemory) -> dict[str, Any]:
        """The bounds, the live sessions and every eviction and refusal so far."""
        return {
            "sessions": len(memory.sessions),
            "max_sessions": self.max_sessions,
            "session_idle_seconds": self.session_idle_seconds,
            "max_items": self.max_items,
            "max_bytes": self.max_bytes,
            "held_bytes": memory.held,
            "evicted_idle": self.evicted_idle,
            "refused_sessions": self.refused_sessions,
            "refused_items": self.refused_items,
            "refused_bytes": self.refused_bytes,
            "refused_session_ids": self.refused_session_ids,
        }
