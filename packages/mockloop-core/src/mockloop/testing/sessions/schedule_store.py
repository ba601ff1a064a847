"""Where schedules live: their rows in the sessions store (`MOCKLOOP_HOME/sessions.db`, or the
`sessions` schema of the PostgreSQL database `MOCKLOOP_DATABASE_URL` names), who runs them, and
their state.

A schedule row records the process that runs it (pid, host and a token unique to that process)
so that any process can tell whether the schedule still runs, runs elsewhere, or is orphaned
(its process is gone). `schedule_runs` keeps each suite run: when it was due, started and
finished, its outcome, and per test the run id it produced or the error it raised.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

import orjson
from pydantic import BaseModel

from mockloop.store.database import upsert_sql
from mockloop.testing.sessions.schedules import (
    NotificationConfig,
    ScheduleStatus,
    ScheduleTiming,
    TestSuite,
)
from mockloop.testing.sessions.store import SessionsDatabase

__all__ = ["PROCESS", "ProcessIdentity", "ScheduleStore", "new_schedule_id", "schedule_state"]

_NOTIFICATION_ERRORS_KEPT = 20


def new_schedule_id() -> str:
    """A short unique schedule id ("schedule-" and 12 hex digits)."""
    return f"schedule-{uuid.uuid4().hex[:12]}"


class ProcessIdentity(BaseModel):
    """Who runs a schedule: a process id, its host, and a token unique to this process."""

    pid: int
    host: str
    token: str

    def is_current(self) -> bool:
        """Whether this identity is the running process (a forked child is not its parent)."""
        return self.token == PROCESS.token and os.getpid() == self.pid


PROCESS = ProcessIdentity(pid=os.getpid(), host=socket.gethostname(), token=uuid.uuid4().hex)


def schedule_state(row: dict[str, Any], runner_alive: bool) -> tuple[str, bool, str]:
    """(shown status, whether this process runs it, a note) for a stored schedule.

    An active schedule whose runner is gone (its process ended, or the event loop that ran
    it in this process was closed) shows as "orphaned".
    """
    from mockloop.load.session import pid_alive

    status = str(row["status"])
    owner = ProcessIdentity(pid=row["owner_pid"], host=row["owner_host"], token=row["owner_token"])
    if status != "active":
        return status, False, str(row.get("ended_reason") or status)
    resume = f"resume it with schedule_config={{'resume': '{row['id']}'}}"
    if owner.is_current():
        if runner_alive:
            return "active", True, "runs in this process"
        return "orphaned", False, f"its runner in this process stopped (client closed); {resume}"
    if owner.host != PROCESS.host:
        return "active", False, f"runs on host {owner.host} (pid {owner.pid}); not checked"
    if pid_alive(owner.pid):
        return "active", False, f"runs in process {owner.pid}"
    return "orphaned", False, f"its process {owner.pid} is gone; {resume}"


# -- the store ----------------------------------------------------------------------------------

_COLUMNS = ("id", "name", "suite", "timing", "notification", "session_id", "status")
_COLUMNS += ("created_at", "updated_at", "next_run_at", "runs_done", "last_run_at")
_COLUMNS += ("last_outcome", "last_error", "notification_errors", "owner_pid", "owner_host")
_COLUMNS += ("owner_token", "runner_exited_at", "ended_reason")
_JSON = ("suite", "timing", "notification", "last_outcome", "notification_errors")
_RUN_COLUMNS = ("schedule_id", "seq", "session_id", "due_at", "started_at", "finished_at")
_RUN_COLUMNS += ("outcome", "tests")


def _dumps(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


class ScheduleStore(SessionsDatabase):
    """Read and write schedules and their suite runs (in the sessions store, see
    `SessionsDatabase`)."""

    def create(
        self,
        *,
        suite: TestSuite,
        timing: ScheduleTiming,
        notification: NotificationConfig | None,
        session_id: str,
        next_run_at: float | None,
    ) -> dict[str, Any]:
        """Store a new active schedule owned by this process and return its row."""
        now = time.time()
        values = {
            "id": new_schedule_id(),
            "name": suite.name,
            "suite": _dumps(suite.model_dump(mode="json")),
            "timing": _dumps(timing.model_dump(mode="json")),
            "notification": _dumps(notification.model_dump(mode="json") if notification else None),
            "session_id": session_id,
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "next_run_at": next_run_at,
            "runs_done": 0,
            "notification_errors": "[]",
            "owner_pid": PROCESS.pid,
            "owner_host": PROCESS.host,
            "owner_token": PROCESS.token,
        }
        with self._connect("create a schedule") as conn:
            conn.execute(
                f"INSERT INTO test_schedules ({', '.join(values)}) "
                f"VALUES ({', '.join('?' for _ in values)})",
                tuple(values.values()),
            )
        row = self.get(str(values["id"]))
        assert row is not None
        return row

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        """One schedule (JSON columns decoded), or None."""
        with self._connect("read a schedule") as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM test_schedules WHERE id = ?", (schedule_id,)
            ).fetchone()
        return self._decode(row) if row else None

    def status(self, schedule_id: str) -> str | None:
        """The stored status alone (what a runner polls)."""
        with self._connect("read a schedule's status") as conn:
            row = conn.execute(
                "SELECT status FROM test_schedules WHERE id = ?", (schedule_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def list(self, *, session_id: str | None = None) -> list[dict[str, Any]]:
        """Schedules, newest first (optionally those feeding one session)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM test_schedules"
        params: tuple[Any, ...] = ()
        if session_id is not None:
            sql += " WHERE session_id = ?"
            params = (session_id,)
        with self._connect("list schedules") as conn:
            rows = conn.execute(sql + " ORDER BY created_at DESC", params).fetchall()
        return [self._decode(row) for row in rows]

    def finish(self, schedule_id: str, status: ScheduleStatus, reason: str) -> bool:
        """Set an active schedule's final status; False when it was no longer active."""
        with self._connect("update a schedule") as conn:
            cursor = conn.execute(
                "UPDATE test_schedules SET status = ?, ended_reason = ?, next_run_at = NULL, "
                "updated_at = ? WHERE id = ? AND status = 'active'",
                (status, reason, time.time(), schedule_id),
            )
        return cursor.rowcount == 1

    def claim(
        self,
        schedule_id: str,
        *,
        next_run_at: float | None,
        suite: TestSuite,
        notification: NotificationConfig | None,
    ) -> None:
        """Make this process the schedule's runner (resume), with its suite and notification."""
        with self._connect("resume a schedule") as conn:
            conn.execute(
                "UPDATE test_schedules SET owner_pid = ?, owner_host = ?, owner_token = ?, "
                "runner_exited_at = NULL, next_run_at = ?, suite = ?, notification = ?, "
                "updated_at = ? WHERE id = ?",
                (
                    PROCESS.pid,
                    PROCESS.host,
                    PROCESS.token,
                    next_run_at,
                    _dumps(suite.model_dump(mode="json")),
                    _dumps(notification.model_dump(mode="json") if notification else None),
                    time.time(),
                    schedule_id,
                ),
            )

    def runner_exited(self, schedule_id: str) -> None:
        """Note that the runner stopped (a canceller in another process waits for it)."""
        with self._connect("update a schedule") as conn:
            conn.execute(
                "UPDATE test_schedules SET runner_exited_at = ? WHERE id = ?",
                (time.time(), schedule_id),
            )

    def start_run(self, schedule_id: str, seq: int, session_id: str, due_at: float) -> float:
        """Record that suite run `seq` started; return its start time."""
        started = time.time()
        with self._connect("record a suite run") as conn:
            conn.execute(
                upsert_sql("schedule_runs", _RUN_COLUMNS, ("schedule_id", "seq")),
                (schedule_id, seq, session_id, due_at, started, None, "running", "[]"),
            )
        return started

    def finish_run(
        self,
        schedule_id: str,
        seq: int,
        *,
        outcome: str,
        tests: list[dict[str, Any]],
        next_run_at: float | None,
        error: str | None,
    ) -> None:
        """Record a finished suite run and move the schedule on (runs done, next run).

        A cancelled suite run is kept but not counted in `runs_done`."""
        now = time.time()
        last = {"seq": seq, "outcome": outcome, "finished_at": now, "tests": tests}
        with self._connect("record a suite run") as conn, conn.transaction(write=True):
            conn.execute(
                "UPDATE schedule_runs SET finished_at = ?, outcome = ?, tests = ? "
                "WHERE schedule_id = ? AND seq = ?",
                (now, outcome, _dumps(tests), schedule_id, seq),
            )
            # The CAST types a None next run for PostgreSQL (an untyped NULL in a CASE is text).
            conn.execute(
                "UPDATE test_schedules SET "
                "runs_done = CASE WHEN ? = 'cancelled' THEN runs_done ELSE ? END, "
                "last_run_at = ?, last_outcome = ?, "
                "last_error = COALESCE(?, last_error), updated_at = ?, "
                "next_run_at = CASE WHEN status = 'active' THEN CAST(? AS DOUBLE PRECISION) END "
                "WHERE id = ?",
                (outcome, seq, now, _dumps(last), error, now, next_run_at, schedule_id),
            )

    def add_notification_error(self, schedule_id: str, error: str) -> None:
        """Keep a notification delivery error (the latest few)."""
        with self._connect("record a notification error") as conn, conn.transaction(write=True):
            row = conn.execute(
                "SELECT notification_errors FROM test_schedules WHERE id = ?", (schedule_id,)
            ).fetchone()
            errors = orjson.loads(row[0]) if row and row[0] else []
            errors = [*errors, {"at": time.time(), "error": error}][-_NOTIFICATION_ERRORS_KEPT:]
            conn.execute(
                "UPDATE test_schedules SET notification_errors = ? WHERE id = ?",
                (_dumps(errors), schedule_id),
            )

    def runs(
        self, *, schedule_id: str | None = None, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Suite runs, oldest first, of one schedule or of the schedules feeding a session."""
        where, params = [], []
        for column, value in (("schedule_id", schedule_id), ("session_id", session_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM schedule_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connect("list suite runs") as conn:
            rows = conn.execute(sql + " ORDER BY started_at ASC", params).fetchall()
        return [
            {**dict(zip(_RUN_COLUMNS, row, strict=True)), "tests": orjson.loads(row[-1])}
            for row in rows
        ]

    @staticmethod
    def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
        data: dict[str, Any] = dict(zip(_COLUMNS, row, strict=True))
        for key in _JSON:
            data[key] = orjson.loads(data[key]) if data[key] else None
        data["notification_errors"] = data["notification_errors"] or []
        return data
