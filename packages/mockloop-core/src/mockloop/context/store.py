"""The contract of a context store, and how to open one.

`ContextStore` is what the context operations need: contexts with parent links, versioned
updates with a change history, snapshots, and the global context. `SQLiteContextStore` (in
`MOCKLOOP_HOME/contexts.db`) is the embedded default; a PostgreSQL backend implements the same
protocol with the same rules (`mockloop.context.changes`) and value encoding
(`mockloop.context.values`).

Guarantees every backend gives:

* An update is a read-modify-write inside one write transaction: the new row carries
  `version + 1`, is written only where the version is still the one read, and its history
  entry (keyed by context and version) is written in the same transaction. Two writers never
  lose each other's change; a reader sees the row before or after, never half of it.
* `expected_version` lets a caller do its own read-modify-write: a stale version is refused
  with `VersionConflictError` instead of overwriting a newer change.

Every method may raise `StoreError` when the backend fails (disk full, corrupt file, a lock
held too long); a caller's mistake (unknown id, refused change) raises `ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mockloop.context.records import (
    Actor,
    ContextRecord,
    HistoryRecord,
    SnapshotRecord,
)

__all__ = ["ContextStore", "default_context_store_path"]


@runtime_checkable
class ContextStore(Protocol):
    """What the context operations need from persistence."""

    def create(
        self,
        context_type: str,
        name: str,
        *,
        attributes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        parent_id: str | None = None,
        expires_at: float | None = None,
        actor: Actor | None = None,
    ) -> ContextRecord:
        """Create a context at version 1 (history entry "create"); ConfigError for an unknown
        parent."""
        ...

    def get(self, context_id: str) -> ContextRecord | None:
        """One context with its children's ids (one consistent read), or None."""
        ...

    def list(
        self, context_type: str, *, status: str | None = None, limit: int = 1000
    ) -> list[ContextRecord]:
        """Contexts of one type, newest first, optionally only those of one status."""
        ...

    def update(
        self,
        context_id: str,
        data: dict[str, Any],
        *,
        merge: bool = True,
        status: str | None = None,
        expected_version: int | None = None,
        actor: Actor | None = None,
    ) -> tuple[ContextRecord, HistoryRecord | None]:
        """Apply one change (rules: `plan_update`); the record after it and its history entry
        (None when nothing changed)."""
        ...

    def global_context(self) -> ContextRecord:
        """The global context, created empty on first use."""
        ...

    def create_snapshot(
        self, context_id: str, name: str | None = None, *, actor: Actor | None = None
    ) -> SnapshotRecord:
        """Copy the context's data and version into a new snapshot."""
        ...

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        """One snapshot, or None."""
        ...

    def list_snapshots(
        self, context_id: str | None = None, *, name: str | None = None
    ) -> list[SnapshotRecord]:
        """Snapshots of a context (or of all contexts), oldest first, optionally by name."""
        ...

    def restore_snapshot(
        self, snapshot_id: str, context_id: str | None = None, *, actor: Actor | None = None
    ) -> tuple[ContextRecord, SnapshotRecord, HistoryRecord]:
        """Replace a context's data with a snapshot's (rules: `plan_restore`)."""
        ...

    def history(self, context_id: str, *, limit: int = 100) -> list[HistoryRecord]:
        """The newest `limit` changes of a context, oldest first."""
        ...

    def close(self) -> None:
        """Release the backend's connections (idempotent)."""
        ...


def default_context_store_path() -> Path:
    """The SQLite file used when no location is given: `contexts.db` in `MOCKLOOP_HOME`."""
    from mockloop.settings import mockloop_home

    return mockloop_home() / "contexts.db"
