"""Versioned schema migrations of the mock's store (SQLite or PostgreSQL; see `database`).

Each migration is a numbered list of statements applied once, in order, inside one write
transaction, and recorded in the `schema_version` table (`database.apply_migrations` does it,
on either backend). Opening a database therefore brings it to the newest schema exactly once,
even when several processes open it at the same moment: the version is re-read after the write
lock is taken, so the second process finds nothing to do.

A database written by a newer MockLoop (a version above the newest known here) is refused rather
than used with a schema this code does not understand.
"""

from __future__ import annotations

from mockloop.store.database import Migration

__all__ = ["MIGRATIONS", "Migration"]


# Written in SQLite's dialect; `Migration.for_dialect` translates the types for PostgreSQL.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="scenarios, response overrides and the request log",
        statements=(
            """
            CREATE TABLE scenarios (
                name TEXT PRIMARY KEY,
                config TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                active INTEGER NOT NULL DEFAULT 0
            )
            """,
            # The database itself keeps "at most one active scenario" true.
            "CREATE UNIQUE INDEX scenarios_one_active ON scenarios (active) WHERE active = 1",
            """
            CREATE TABLE response_overrides (
                key TEXT PRIMARY KEY,
                config TEXT NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            # id is the rowid: monotonic in insertion order, which is what retention evicts by.
            """
            CREATE TABLE request_log (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                query TEXT NOT NULL DEFAULT '',
                operation_id TEXT,
                status INTEGER,
                latency_ms REAL,
                request_size INTEGER NOT NULL DEFAULT 0,
                response_size INTEGER NOT NULL DEFAULT 0,
                request_headers TEXT NOT NULL DEFAULT '{}',
                response_headers TEXT NOT NULL DEFAULT '{}',
                request_body TEXT NOT NULL DEFAULT '',
                response_body TEXT NOT NULL DEFAULT '',
                truncated INTEGER NOT NULL DEFAULT 0,
                client TEXT,
                session_id TEXT,
                correlation_id TEXT,
                scenario TEXT,
                mode TEXT
            )
            """,
            "CREATE INDEX request_log_ts ON request_log (ts)",
            "CREATE INDEX request_log_status ON request_log (status)",
            "CREATE INDEX request_log_operation_id ON request_log (operation_id)",
            "CREATE INDEX request_log_session_id ON request_log (session_id)",
        ),
    ),
    Migration(
        version=2,
        description="request log bodies stored once per distinct content",
        statements=(
            # A mock answers with the same bytes again and again: a body of some size is kept
            # once here, by content hash, and a log row points at it.
            "CREATE TABLE log_bodies (ref TEXT PRIMARY KEY, text TEXT NOT NULL)",
            "ALTER TABLE request_log ADD COLUMN request_body_ref TEXT",
            "ALTER TABLE request_log ADD COLUMN response_body_ref TEXT",
            # Every index is paid on each insert at thousands of rows a second; a status or
            # operation filter scans at most the retained rows (100,000 by default) instead.
            "DROP INDEX request_log_status",
            "DROP INDEX request_log_operation_id",
        ),
    ),
    Migration(
        version=3,
        description="request log: the upstream's status, latency and error (proxy modes)",
        statements=(
            "ALTER TABLE request_log ADD COLUMN upstream_status INTEGER",
            "ALTER TABLE request_log ADD COLUMN upstream_latency_ms REAL",
            "ALTER TABLE request_log ADD COLUMN upstream_error TEXT",
        ),
    ),
    Migration(
        version=4,
        description="replicas: a config version bumped by every scenario or override change",
        statements=(
            "CREATE TABLE config_state (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
            "INSERT INTO config_state (id, version) VALUES (1, 0)",
            """
            CREATE TABLE replicas (
                replica_id TEXT PRIMARY KEY,
                url TEXT,
                seen_version INTEGER NOT NULL,
                heartbeat_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        version=5,
        description="request log: sequence numbers per writer, so a crash's loss is counted",
        statements=(
            # Which writer process stored the row, and its place in that writer's sequence:
            # a gap in a writer's numbers is a record the log does not have.
            "ALTER TABLE request_log ADD COLUMN writer_id TEXT",
            "ALTER TABLE request_log ADD COLUMN seq INTEGER",
            # One row per writer, advanced in the same transaction as each batch: every record
            # up to last_seq is stored or counted in dropped. Retention and clearing never touch
            # it, so the next start can tell a crash's loss from rows deleted on purpose.
            """
            CREATE TABLE log_writers (
                writer_id TEXT PRIMARY KEY,
                last_seq INTEGER NOT NULL,
                dropped INTEGER NOT NULL DEFAULT 0,
                rejected INTEGER NOT NULL DEFAULT 0,
                lost INTEGER NOT NULL DEFAULT 0,
                updated_at REAL NOT NULL
            )
            """,
            # The sequence numbers a crashed writer had handed out but never stored.
            """
            CREATE TABLE log_gaps (
                id INTEGER PRIMARY KEY,
                writer_id TEXT NOT NULL,
                first_seq INTEGER NOT NULL,
                last_seq INTEGER NOT NULL,
                found_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        version=6,
        description="request log: the session index holds only rows that have a session",
        statements=(
            # Most rows have no session: a full index kept a NULL entry per row, paid on every
            # insert and again on every eviction (about 0.6 us of the writer's CPU per row).
            # `session_id = ?` implies NOT NULL, so the session filter still uses the index.
            "DROP INDEX request_log_session_id",
            "CREATE INDEX request_log_session_id ON request_log (session_id)"
            " WHERE session_id IS NOT NULL",
        ),
    ),
)
