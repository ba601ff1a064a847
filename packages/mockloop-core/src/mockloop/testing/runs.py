"""The runs of testing operations, kept for sessions, analysis and reports.

`MOCKLOOP_HOME/test_runs.db` (or the `test_runs` schema of the PostgreSQL database
`MOCKLOOP_DATABASE_URL` names) holds one row per run of `execute_test_plan`,
`run_test_iteration`, `run_security_test` and `run_load_test`: its kind, status, target,
the test session and context it belongs to (if any), a short summary of figures and the whole
result as JSON. Load runs keep their full record (progress, HDR histogram) in the load run
store (`LoadRunStore`) as well; a background load run's row here is written when it starts and
`LoadRunStore` tells its latest state.

Every row is redacted as it is written (`mockloop.redaction`): the target URL's credentials,
secret fields and secrets in the text of the summary and the result never reach the store.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from mockloop.redaction import redact_text, redact_value
from mockloop.store.base import StoreBase
from mockloop.store.database import Migration, upsert_sql

__all__ = ["RUN_KINDS", "TEST_RUN_MIGRATIONS", "RunKind", "TestRunStore"]

RunKind = Literal["test_plan", "iteration", "security", "load"]
RUN_KINDS: tuple[str, ...] = RunKind.__args__  # type: ignore[attr-defined]

TEST_RUN_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="runs of testing operations",
        statements=(
            """
            CREATE TABLE test_runs (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                server_url TEXT NOT NULL,
                session_id TEXT,
                context_id TEXT,
                started_at REAL NOT NULL,
                finished_at REAL,
                summary TEXT NOT NULL,
                result TEXT
            )
            """,
            "CREATE INDEX test_runs_session ON test_runs (session_id, started_at)",
            "CREATE INDEX test_runs_started ON test_runs (started_at)",
        ),
    ),
)
_COLUMNS = ("id", "kind", "status", "server_url", "session_id", "context_id", "started_at")
_COLUMNS += ("finished_at", "summary", "result")


class TestRunStore(StoreBase):
    """Read and write testing runs (default: `MOCKLOOP_HOME/test_runs.db`, or the `test_runs`
    schema when `MOCKLOOP_DATABASE_URL` names a PostgreSQL database; a path is that file).
    Short-lived connections (`StoreBase` "per_use").

    Every method may raise `StoreError` when the database cannot be opened, read or written.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    NAME = "test_runs"
    TITLE = "test run store"
    FILE = "test_runs.db"
    MIGRATIONS = TEST_RUN_MIGRATIONS

    def save(
        self,
        *,
        run_id: str,
        kind: RunKind,
        status: str,
        server_url: str,
        started_at: float,
        finished_at: float | None = None,
        summary: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        session_id: str | None = None,
        context_id: str | None = None,
    ) -> None:
        """Insert or replace a run, redacted. `summary` holds a few figures; `result` the whole
        JSON."""
        if kind not in RUN_KINDS:
            raise ValueError(f"unknown run kind {kind!r}")
        row = (
            run_id,
            kind,
            status,
            redact_text(server_url),
            session_id,
            context_id,
            started_at,
            finished_at,
            orjson.dumps(redact_value(summary or {})).decode(),
            orjson.dumps(redact_value(result)).decode() if result is not None else None,
        )
        with self._connect("save a test run") as conn:
            conn.execute(upsert_sql("test_runs", _COLUMNS, ("id",)), row)

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run (columns, with `summary` and `result` decoded), or None."""
        with self._connect("read a test run") as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM test_runs WHERE id = ?", (run_id,)
            ).fetchone()
        return self._decode(row) if row else None

    def list(
        self,
        *,
        kind: str | None = None,
        session_id: str | None = None,
        context_id: str | None = None,
        since: float | None = None,
        limit: int = 100,
        with_result: bool = False,
    ) -> list[dict[str, Any]]:
        """Runs, oldest first, filtered by kind, session, context and start time."""
        columns = _COLUMNS if with_result else _COLUMNS[:-1]
        sql = f"SELECT {', '.join(columns)} FROM test_runs"
        where: list[str] = []
        params: list[Any] = []
        filters = (("kind", kind), ("session_id", session_id), ("context_id", context_id))
        for column, value in filters:
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at ASC LIMIT ?"
        params.append(limit)
        with self._connect("list test runs") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._decode(row, columns) for row in rows]

    @staticmethod
    def _decode(row: tuple[Any, ...], columns: tuple[str, ...] = _COLUMNS) -> dict[str, Any]:
        data: dict[str, Any] = dict(zip(columns, row, strict=True))
        data["summary"] = orjson.loads(data["summary"]) if data["summary"] else {}
        if "result" in data:
            data["result"] = orjson.loads(data["result"]) if data["result"] else None
        return data
