"""Persistence behind one small interface.

`Store` is the contract every backend meets: scenarios, per-operation response overrides, the
request log, and export/import of the configuration. `SQLStore` implements it on SQLite (the
embedded default, one file per mock) and on PostgreSQL (selected by URL, one schema per mock,
shared by several mock replicas); see `mockloop.store.database` for the connection layer.

Every store of MockLoop (this one, the registry, load and test runs, sessions, contexts, the
audit trail, webhooks) opens its database through `StoreBase` (`mockloop.store.base`): one
place that resolves the location (`store.connection.resolve_location`, the one store-URL
parser), applies the store's migrations and holds fork-safe connections. `docs/storage.md`
lists what each store holds.

Every method may raise `StoreError` when the backend fails (disk full, corrupt file, lock held too
long); filters that are the caller's mistake (an invalid regular expression, an unknown status
class) raise `ConfigError`, and activating an unknown scenario raises `ScenarioError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mockloop.store.base import StoreBase
from mockloop.store.connection import resolve_location
from mockloop.store.sql import LOG_COLUMNS, SQLiteStore, SQLStore

__all__ = [
    "LOG_COLUMNS",
    "SQLStore",
    "SQLiteStore",
    "Store",
    "StoreBase",
    "default_store_path",
    "open_store",
]


@runtime_checkable
class Store(Protocol):
    """What the mock server, the admin API and the request log writer need from persistence."""

    # Scenarios
    def list_scenarios(self) -> list[dict[str, Any]]:
        """Every scenario: name, config, created_at, updated_at, active; ordered by name."""
        ...

    def get_scenario(self, name: str) -> dict[str, Any] | None:
        """One scenario, or None when no scenario has that name."""
        ...

    def put_scenario(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a scenario's config (keeps created_at and active); return it."""
        ...

    def delete_scenario(self, name: str) -> bool:
        """Delete a scenario; True when it existed."""
        ...

    def set_active_scenario(self, name: str | None) -> None:
        """Make `name` the only active scenario, or deactivate all with None."""
        ...

    def active_scenario(self) -> str | None:
        """The active scenario's name, or None."""
        ...

    # Response overrides, keyed by operation
    def list_overrides(self) -> dict[str, dict[str, Any]]:
        """Every override config by key."""
        ...

    def put_override(self, key: str, config: dict[str, Any]) -> None:
        """Create or replace the override for `key`."""
        ...

    def delete_override(self, key: str) -> bool:
        """Delete one override; True when it existed."""
        ...

    def clear_overrides(self) -> int:
        """Delete every override; return how many there were."""
        ...

    # Request log
    def insert_log_rows(self, rows: Sequence[Mapping[str, Any] | tuple[Any, ...]]) -> None:
        """Insert already-redacted log rows in one transaction (column maps, or tuples of
        every column of `LOG_COLUMNS` but id, in order: `SQLStore.insert_log_rows`)."""
        ...

    def search_logs(
        self,
        *,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | str | None = None,
        operation_id: str | None = None,
        time_from: float | None = None,
        time_to: float | None = None,
        session_id: str | None = None,
        correlation_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        """Log rows matching every given filter, one page of them."""
        ...

    def count_logs(
        self,
        *,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | str | None = None,
        operation_id: str | None = None,
        time_from: float | None = None,
        time_to: float | None = None,
        session_id: str | None = None,
        correlation_id: str | None = None,
    ) -> int:
        """How many log rows match every given filter."""
        ...

    def evict_logs(self, keep: int) -> int:
        """Delete the oldest rows beyond the newest `keep`; return how many went."""
        ...

    def clear_logs(self) -> int:
        """Delete every log row; return how many there were."""
        ...

    # Whole state
    def export(self) -> dict[str, Any]:
        """Scenarios, overrides, the active scenario and the log row count."""
        ...

    def import_state(self, data: dict[str, Any], *, replace: bool = False) -> None:
        """Load scenarios, overrides and the active scenario from an `export()` document."""
        ...

    def close(self) -> None:
        """Release the backend's connections (idempotent)."""
        ...


def default_store_path() -> Path:
    """The SQLite file used when no location is given: `mockloop.db` in `MOCKLOOP_HOME`."""
    from mockloop.settings import mockloop_home

    return mockloop_home() / "mockloop.db"


def open_store(location: str | os.PathLike[str] | None = None, *, name: str = "mock") -> Store:
    """Open the store at a path or URL; None opens the default SQLite file.

    Accepted: a file path, `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or
    `postgresql://user:password@host:port/database` (the store's tables then live in the schema
    `{prefix}_{name}`; see `mockloop.store.database.schema_name`).

    Raises:
        ConfigError: the location names a backend this installation cannot open.
        StoreError: the database cannot be opened or migrated.
    """
    if location is None:  # the file, whatever MOCKLOOP_DATABASE_URL says
        return SQLStore(default_store_path())
    return SQLStore(resolve_location(name, location, None, title="store"))
