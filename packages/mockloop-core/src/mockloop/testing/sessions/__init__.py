"""Test sessions and schedules: sessions that group runs (`store`) and their final report
(`report`); schedules (`schedules`, `schedule_store`) and the scheduler that runs them, on an
injectable `clock`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.testing.sessions.store import RUNS_SHOWN as RUNS_SHOWN
    from mockloop.testing.sessions.store import SESSIONS_DB_MIGRATIONS as SESSIONS_DB_MIGRATIONS
    from mockloop.testing.sessions.store import SessionListStatus as SessionListStatus
    from mockloop.testing.sessions.store import SessionsDatabase as SessionsDatabase
    from mockloop.testing.sessions.store import TestSession as TestSession
    from mockloop.testing.sessions.store import TestSessionList as TestSessionList
    from mockloop.testing.sessions.store import TestSessionStore as TestSessionStore
    from mockloop.testing.sessions.store import new_session_id as new_session_id

# The names `mockloop.testing.sessions` held as one module before the split, loaded on first use.
__all__ = [
    "RUNS_SHOWN",
    "SESSIONS_DB_MIGRATIONS",
    "SessionListStatus",
    "SessionsDatabase",
    "TestSession",
    "TestSessionList",
    "TestSessionStore",
    "new_session_id",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("mockloop.testing.sessions.store"), name)
