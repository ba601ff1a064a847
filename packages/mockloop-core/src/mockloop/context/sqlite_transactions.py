"""Transactions of the context store, on SQLite or PostgreSQL.

The store's connections are the per-thread ones every store gets from `StoreBase`
(`mockloop.store.connection.ThreadConnections`: one per thread, opened on first use, never
reused after `fork()`; on SQLite in WAL mode, so a reader never waits for a writer). This module
adds what the context store needs on top: `read` runs its work in one read transaction
(`Connection.begin_read()`: every SELECT sees the same committed state); `write` runs it under
the store's write lock (`Connection.begin_write()`: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
advisory lock on the schema), taken before anything is read, so a read-modify-write is atomic
across processes. A write is redone when the work reports that the version moved or the lock
stayed busy, until the busy timeout has passed.

A PostgreSQL connection found broken (the server restarted, an idle connection was cut) is
dropped; when that shows at the start of a transaction, before anything was sent, the call is
retried once on a new connection.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

from mockloop.errors import StoreError
from mockloop.store.database import BusyError, Connection, DatabaseError, Location

__all__ = ["SQLiteTransactions", "StoreTransactions", "VersionMoved", "sqlite_setup"]

T = TypeVar("T")


class VersionMoved(Exception):
    """The row's version changed between the read and the write: redo the change."""


class _Stale(Exception):
    """The thread's connection broke before the transaction began: open a new one."""


def sqlite_setup(conn: Connection) -> None:
    """The SQLite settings of a context store connection (nothing to do on PostgreSQL)."""
    if conn.dialect == "sqlite":
        # Durable across process crashes in WAL mode; only a power loss could drop commits.
        conn.execute("PRAGMA synchronous = NORMAL")


class StoreTransactions:
    """The transactions run on one store's connections.

    Args:
        connect: the store's `_connect(what)`: this thread's connection, held for one call,
            a backend failure in the block turned into a `StoreError` naming the location.
        location: where the store lives (for messages).
        busy_timeout: seconds a transaction waits for another writer before `StoreError`.
    """

    def __init__(
        self,
        connect: Callable[[str], contextlib.AbstractContextManager[Connection]],
        location: Location,
        busy_timeout: float,
    ) -> None:
        self.connect = connect
        self.location = location
        self.busy_timeout = busy_timeout

    @staticmethod
    def _begin(conn: Connection, begin: Callable[[], None]) -> None:
        try:
            begin()
        except DatabaseError:
            if conn.dialect == "postgresql" and (conn.raw.closed or conn.raw.broken):
                raise _Stale from None
            raise

    def _retrying_stale(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except _Stale:
            return call()  # the broken connection was dropped: this opens a new one

    def read(self, what: str, work: Callable[[Connection], T]) -> T:
        """Run `work` in one read transaction: every SELECT sees the same committed state."""

        return self._retrying_stale(lambda: self._once(what, work, write=False))

    def _once(self, what: str, work: Callable[[Connection], T], *, write: bool) -> T:
        """`work` in one transaction (the write lock when `write`, else one snapshot)."""
        with self.connect(what) as conn:
            self._begin(conn, conn.begin_write if write else conn.begin_read)
            try:
                result = work(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return result

    def write(self, what: str, work: Callable[[Connection], T]) -> T:
        """Run `work` holding the store's write lock, redone when the version moved or the
        lock stayed busy, until the busy timeout has passed."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005

        while True:
            try:
                return self._retrying_stale(lambda: self._once(what, work, write=True))
            except VersionMoved:
                pass
            except StoreError as exc:
                cause = exc.__cause__
                if not isinstance(cause, BusyError):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.location}: could not {what}: the store stayed locked by another "
                        f"writer for {self.busy_timeout:g} s"
                    ) from cause
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.2)


SQLiteTransactions = StoreTransactions  # the name before PostgreSQL support
