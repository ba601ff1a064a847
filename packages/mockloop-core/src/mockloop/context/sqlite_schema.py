"""The schema of the context store, as versioned migrations (SQLite and PostgreSQL).

Written in SQLite's dialect; `mockloop.store.database` translates the types for PostgreSQL
(`REAL` becomes `DOUBLE PRECISION`, `INTEGER` becomes `BIGINT`). JSON is kept as TEXT on both,
so the stored text round-trips exactly (see `mockloop.context.values`).
"""

from __future__ import annotations

from mockloop.store.database import Migration

__all__ = ["CONTEXT_MIGRATIONS"]

CONTEXT_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="contexts, their change history and snapshots",
        statements=(
            """
            CREATE TABLE contexts (
                id TEXT PRIMARY KEY,
                type TEXT NOT NULL,
                name TEXT NOT NULL,
                parent_id TEXT,
                status TEXT NOT NULL,
                attributes TEXT NOT NULL,
                data TEXT NOT NULL,
                version INTEGER NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                expires_at REAL,
                created_by TEXT
            )
            """,
            "CREATE INDEX contexts_type ON contexts (type, created_at)",
            "CREATE INDEX contexts_parent ON contexts (parent_id)",
            # One entry per version: two writers can never both record the same version.
            """
            CREATE TABLE context_history (
                context_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                at REAL NOT NULL,
                action TEXT NOT NULL,
                changed_keys TEXT NOT NULL,
                changes TEXT NOT NULL,
                operation TEXT,
                face TEXT,
                session_id TEXT,
                detail TEXT NOT NULL,
                PRIMARY KEY (context_id, version)
            )
            """,
            """
            CREATE TABLE context_snapshots (
                id TEXT PRIMARY KEY,
                context_id TEXT NOT NULL,
                name TEXT,
                version INTEGER NOT NULL,
                data TEXT NOT NULL,
                created_at REAL NOT NULL,
                face TEXT
            )
            """,
            "CREATE INDEX context_snapshots_context ON context_snapshots (context_id, created_at)",
        ),
    ),
)
