"""Connections and transactions of the context store, on SQLite or PostgreSQL.

Each thread keeps one connection per store (opened on first use, never reused after `fork()`):
on SQLite in WAL mode, so a reader never waits for a writer; on PostgreSQL a connection whose
`search_path` is the store's schema. `read` runs its work in one read transaction
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
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

from mockloop.errors import StoreError
from mockloop.store.database import BusyError, Connection, DatabaseError, Location, connect

__all__ = ["SQLiteTransactions", "StoreTransactions", "VersionMoved"]

T = TypeVar("T")


class _Holder:
    """A thread's connection; closed with the store, or when its thread ends.

    The lock is only contended by `close()` from another thread: closing a connection that
    is inside a call can crash the interpreter, so close waits for the call to end.
    """

    __slots__ = ("__weakref__", "closed", "conn", "lock", "pid")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.closed = False

    def broken(self) -> bool:
        """True when the PostgreSQL connection under it is closed or unusable."""
        if self.conn.dialect != "postgresql":
            return False
        raw = self.conn.raw
        return bool(raw.closed or raw.broken)

    def close(self) -> None:
        # A connection inherited through fork() belongs to the parent: never touch it.
        if self.pid != os.getpid():
            return
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()

    def __del__(self) -> None:
        self.close()


class VersionMoved(Exception):
    """The row's version changed between the read and the write: redo the change."""


class _Stale(Exception):
    """The thread's connection broke before the transaction began: open a new one."""


def _sqlite_setup(conn: Connection) -> None:
    if conn.dialect == "sqlite":
        # Durable across process crashes in WAL mode; only a power loss could drop commits.
        conn.execute("PRAGMA synchronous = NORMAL")


class StoreTransactions:
    """Per-thread connections to one store location and the transactions run on them.

    Args:
        location: the SQLite file (its folder exists) or the PostgreSQL schema.
        busy_timeout: seconds a transaction waits for another writer before `StoreError`.
    """

    def __init__(self, location: Location, busy_timeout: float) -> None:
        self.location = location
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._holders_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close every connection, in every thread (idempotent); later calls fail.

        A call running in another thread finishes first.
        """
        self._closed = True
        with self._holders_lock:
            holders = list(self._holders)
            self._holders = weakref.WeakSet()
        for holder in holders:
            holder.close()
        self._local = threading.local()

    def _closed_error(self) -> StoreError:
        return StoreError(f"{self.location}: the context store is closed; open a new one to go on")

    @contextlib.contextmanager
    def connect(self, what: str) -> Iterator[Connection]:
        """This thread's connection (opened on first use), held for one call.

        Raises:
            StoreError: the database cannot be opened, or the backend failed in the block
                (its `__cause__` is the `DatabaseError`).
        """
        try:
            holder = self._holder()
        except DatabaseError as exc:
            raise StoreError(f"{self.location}: could not {what}: {exc}") from exc
        with holder.lock:
            if holder.closed:
                raise self._closed_error()
            try:
                yield holder.conn
            except _Stale:
                self._drop(holder)
                raise
            except DatabaseError as exc:
                # Leave no transaction open on a connection that outlives this call.
                holder.conn.rollback()
                if holder.broken():
                    self._drop(holder)
                raise StoreError(f"{self.location}: could not {what}: {exc}") from exc

    def _holder(self) -> _Holder:
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is not None and holder.pid == os.getpid() and not holder.closed:
            return holder
        if self._closed:
            raise self._closed_error()
        conn = connect(
            self.location,
            busy_timeout=self.busy_timeout,
            check_same_thread=False,
            setup=_sqlite_setup,
        )
        holder = _Holder(conn)
        self._local.holder = holder
        with self._holders_lock:
            self._holders.add(holder)
        return holder

    def _drop(self, holder: _Holder) -> None:
        """Forget a broken connection; this thread's next call opens a new one."""
        if getattr(self._local, "holder", None) is holder:
            self._local.holder = None
        holder.closed = True
        holder.conn.close()

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
