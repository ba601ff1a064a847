"""`StoreBase`: the one way a MockLoop store opens its database.

Every store (the mock's store, the registry, load runs, test runs, sessions and schedules,
contexts, the audit trail, a mock's webhooks) is a subclass that declares, as class attributes,
what it is; the base does the rest, the same way for all:

* where it lives: `resolve_location` (a `Location`, a path, a store URL, or None for the
  `NAME` schema of `MOCKLOOP_DATABASE_URL`, else the file `FILE` in `MOCKLOOP_HOME`);
* its schema: `MIGRATIONS`, applied when a connection opens (`database.apply_migrations`);
* its connections: `CONNECTIONS` picks one of the holders of `mockloop.store.connection`
  (per use, per thread, or one held), every one fork-safe, with `setup_connection` run on each
  new connection (SQLite PRAGMAs, SQL functions);
* its errors: a backend failure is a `StoreError` that starts with the location and says what
  was being done (`_connect(what)`, `_transaction(what, write=...)`).

Subclassing (rather than composition) keeps each store's public constructor as it was: a
store that takes nothing more than a location and a busy timeout needs no `__init__` at all.
The one store that is not a `StoreBase` subclass, a mock's shared stateful data
(`mock.state.sync.SharedState`), holds its connection with the same `HeldConnection`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import ClassVar, Literal

from mockloop.store.connection import (
    HeldConnection,
    ShortConnections,
    ThreadConnections,
    resolve_location,
)
from mockloop.store.database import Connection, Location, Migration

__all__ = ["ConnectionMode", "StoreBase"]

ConnectionMode = Literal["per_use", "per_thread", "held"]


class StoreBase:
    """One store: where it lives, its migrations and its connections (see the module docstring).

    Args:
        path: a `Location`, a SQLite file path, a store URL, or None for the default.
        busy_timeout: seconds a statement waits for a lock held by another connection or
            process before failing with `StoreError`.
        migrations: the schema steps to apply (tests pass their own list); default
            `MIGRATIONS`.

    Raises:
        ConfigError: the location cannot name a database (see `resolve_location`), or
            PostgreSQL is asked for without psycopg installed.
        StoreError: the database cannot be opened or migrated (when the store opens at once).
    """

    #: The store's name: its PostgreSQL schema is `{prefix}_{NAME}` (see `schema_name`).
    NAME: ClassVar[str]
    #: What the store is called in error messages ("could not open the {TITLE}").
    TITLE: ClassVar[str]
    #: The SQLite file in `MOCKLOOP_HOME` used by default; None: a location must be given.
    FILE: ClassVar[str | None] = None
    MIGRATIONS: ClassVar[tuple[Migration, ...]] = ()
    #: How connections are held: "per_use" (SQLite per call, PostgreSQL cached per thread),
    #: "per_thread" (one per thread, closed together) or "held" (one, under a lock).
    CONNECTIONS: ClassVar[ConnectionMode] = "per_use"
    #: Open (and migrate) in the constructor, so a bad location fails where it is given.
    OPEN_NOW: ClassVar[bool] = False
    #: "held": whether a call after `close()` opens a new connection (else StoreError).
    REOPEN_AFTER_CLOSE: ClassVar[bool] = False

    def __init__(
        self,
        path: str | os.PathLike[str] | Location | None = None,
        *,
        busy_timeout: float = 10.0,
        migrations: tuple[Migration, ...] | None = None,
    ) -> None:
        self.location: Location = self.resolve(path)
        self.busy_timeout = busy_timeout
        chosen = self.MIGRATIONS if migrations is None else migrations
        setup = self.setup_connection
        self._connections: ShortConnections | ThreadConnections | HeldConnection
        if self.CONNECTIONS == "per_thread":
            self._connections = ThreadConnections(
                self.location, chosen, busy_timeout=busy_timeout, store=self.TITLE, setup=setup
            )
        elif self.CONNECTIONS == "held":
            self._connections = HeldConnection(
                self.location,
                chosen,
                busy_timeout=busy_timeout,
                store=self.TITLE,
                setup=setup,
                open_now=False,
                reopen=self.REOPEN_AFTER_CLOSE,
            )
        else:
            self._connections = ShortConnections(
                self.location, chosen, busy_timeout=busy_timeout, store=self.TITLE, setup=setup
            )
        #: The migration versions this object applied when it opened ([] when it opens lazily).
        self.applied_migrations: list[int] = self._connections.open() if self.OPEN_NOW else []

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | Location | None) -> Location:
        """Where a store of this class opened with `path` lives (see `resolve_location`)."""
        default = cls._default_path if cls.FILE is not None else None
        return resolve_location(cls.NAME, path, default, title=cls.TITLE)

    @classmethod
    def _default_path(cls) -> Path:
        from mockloop.settings import mockloop_home

        assert cls.FILE is not None
        return mockloop_home() / cls.FILE

    @staticmethod
    def setup_connection(conn: Connection) -> None:
        """Settings for each new connection (override: SQLite PRAGMAs, SQL functions)."""

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None when the store is in PostgreSQL."""
        return self.location.path

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.location.backend

    def _connect(self, what: str) -> contextlib.AbstractContextManager[Connection]:
        """A connection at the newest schema, in autocommit mode (callers open their own
        transactions); a backend failure in the block becomes "{location}: could not {what}"."""
        return self._connections.connection(what)

    def _transaction(
        self, what: str, *, write: bool
    ) -> contextlib.AbstractContextManager[Connection]:
        """`_connect(what)` inside a transaction: the store's write lock when `write` (taken up
        front), else one snapshot; COMMIT at the end, ROLLBACK on any exception."""
        return self._connections.transaction(what, write=write)

    def close(self) -> None:
        """Close the connections this object holds (idempotent)."""
        self._connections.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.location)!r})"
