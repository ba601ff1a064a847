"""Test sessions: a named group of testing runs, open until it is ended with a final report.

`MOCKLOOP_HOME/sessions.db` (or the `sessions` schema of the PostgreSQL database
`MOCKLOOP_DATABASE_URL` names) holds the sessions, and the schedules that feed them
(`mockloop.testing.sessions.schedules`) with the record of each scheduled suite run. The runs
themselves live in the test run store (`TestRunStore`), tagged with their session id; a session
row keeps what the session is about (a name, the plan, free-form configuration), whether it is
active or ended, and the final report computed when it ended.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

import orjson
from pydantic import Field

from mockloop.results import Result
from mockloop.store.base import StoreBase
from mockloop.store.database import Migration
from mockloop.testing.sessions.report import SessionReport

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

SessionListStatus = Literal["active", "ended"]
#: How many of its latest runs `get_test_session` shows.
RUNS_SHOWN = 200

SESSIONS_DB_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="test sessions, test schedules and the schedules' suite runs",
        statements=(
            """
            CREATE TABLE test_sessions (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                test_plan TEXT,
                config TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at REAL NOT NULL,
                ended_at REAL,
                created_by TEXT,
                report TEXT
            )
            """,
            "CREATE INDEX test_sessions_created ON test_sessions (created_at)",
            """
            CREATE TABLE test_schedules (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                suite TEXT NOT NULL,
                timing TEXT NOT NULL,
                notification TEXT,
                session_id TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                next_run_at REAL,
                runs_done INTEGER NOT NULL DEFAULT 0,
                last_run_at REAL,
                last_outcome TEXT,
                last_error TEXT,
                notification_errors TEXT NOT NULL DEFAULT '[]',
                owner_pid INTEGER NOT NULL,
                owner_host TEXT NOT NULL,
                owner_token TEXT NOT NULL,
                runner_exited_at REAL,
                ended_reason TEXT
            )
            """,
            "CREATE INDEX test_schedules_status ON test_schedules (status)",
            """
            CREATE TABLE schedule_runs (
                schedule_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                session_id TEXT NOT NULL,
                due_at REAL NOT NULL,
                started_at REAL NOT NULL,
                finished_at REAL,
                outcome TEXT NOT NULL,
                tests TEXT NOT NULL,
                PRIMARY KEY (schedule_id, seq)
            )
            """,
            "CREATE INDEX schedule_runs_session ON schedule_runs (session_id, started_at)",
        ),
    ),
)

_COLUMNS = ("id", "name", "test_plan", "config", "status", "created_at", "ended_at")
_COLUMNS += ("created_by", "report")


def new_session_id() -> str:
    """A short unique session id ("session-" and 12 hex digits)."""
    return f"session-{uuid.uuid4().hex[:12]}"


class SessionsDatabase(StoreBase):
    """The sessions store, shared by sessions and schedules: `MOCKLOOP_HOME/sessions.db`, or
    the `sessions` schema when `MOCKLOOP_DATABASE_URL` names a PostgreSQL database (a path is
    that file).

    A connection per call on SQLite (a cached one per thread on PostgreSQL), migrated on open
    (`StoreBase` "per_use"). Every method of a subclass may raise `StoreError` when the
    database cannot be opened, read or written.
    """

    NAME = "sessions"
    TITLE = "session store"
    FILE = "sessions.db"
    MIGRATIONS = SESSIONS_DB_MIGRATIONS


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None


class TestSessionStore(SessionsDatabase):
    """Read and write test sessions (in the sessions store, see `SessionsDatabase`)."""

    __test__ = False  # not a pytest test class, whatever its name says

    def create(
        self,
        *,
        name: str,
        test_plan: Any = None,
        config: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """Open a new active session and return its row."""
        session_id = new_session_id()
        row = (
            session_id,
            name,
            _dumps(test_plan) if test_plan is not None else None,
            _dumps(config or {}),
            "active",
            time.time(),
            None,
            created_by,
            None,
        )
        with self._connect("create a test session") as conn:
            conn.execute(
                f"INSERT INTO test_sessions ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                row,
            )
        return self._decode(row)

    def get(self, session_id: str) -> dict[str, Any] | None:
        """One session (with `test_plan`, `config` and `report` decoded), or None."""
        with self._connect("read a test session") as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM test_sessions WHERE id = ?", (session_id,)
            ).fetchone()
        return self._decode(row) if row else None

    def list(self, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Sessions, newest first, optionally only those with `status`."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM test_sessions"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC LIMIT ?"
        params.append(limit)
        with self._connect("list test sessions") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._decode(row) for row in rows]

    def end(self, session_id: str, report: dict[str, Any] | None) -> bool:
        """Mark an active session ended with its report; False when it was not active."""
        with self._connect("end a test session") as conn:
            cursor = conn.execute(
                "UPDATE test_sessions SET status = 'ended', ended_at = ?, report = ? "
                "WHERE id = ? AND status = 'active'",
                (time.time(), _dumps(report) if report is not None else None, session_id),
            )
        return cursor.rowcount == 1

    @staticmethod
    def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
        data: dict[str, Any] = dict(zip(_COLUMNS, row, strict=True))
        data["test_plan"] = _loads(data["test_plan"])
        data["config"] = _loads(data["config"]) or {}
        data["report"] = _loads(data["report"])
        return data


class TestSession(Result):
    """A test session: what it is about, its runs, and its report."""

    __test__ = False  # not a pytest test class, whatever its name says

    session_id: str
    name: str
    status: str = Field(description="active (runs land in it) or ended")
    test_plan: Any = Field(default=None, description="the plan or plan name it is about")
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    ended_at: float | None = None
    created_by: str | None = Field(default=None, description="None, or schedule_test_suite")
    current: bool = Field(description="it is this client's open session: its runs land in it")
    run_count: int | None = Field(default=None, description="runs stored in the session")
    runs: list[dict[str, Any]] | None = Field(
        default=None, description=f"the latest {RUNS_SHOWN} runs, oldest first (summaries)"
    )
    schedules: list[str] = Field(default_factory=list, description="schedules feeding it")
    report: SessionReport | None = Field(
        default=None, description="the final report (ended) or the live one (get_test_session)"
    )
    message: str = ""

    def summary(self, limit: int = 600) -> str:
        """One paragraph: the session, its runs and its verdict."""
        text = f"test session {self.name} ({self.session_id}), {self.status}"
        if self.run_count is not None:
            text += f", {self.run_count} run(s)"
        if self.message:
            text += f": {self.message}"
        if self.report is not None:
            text += f" {self.report.summary(limit)}"
        return text if len(text) <= limit else text[: limit - 3] + "..."


class TestSessionList(Result):
    """Stored test sessions, newest first."""

    __test__ = False

    sessions: list[TestSession]
    count: int
    current_session_id: str | None = Field(description="this client's open session, if any")
