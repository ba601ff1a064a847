"""The stores one client uses, opened once, and the record of its testing runs."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from mockloop.context.sqlite import SQLContextStore
from mockloop.context.store import ContextStore
from mockloop.load.store import LoadRunStore
from mockloop.operations.services.work import BlockingWork
from mockloop.settings import ClientSettings, using_home
from mockloop.testing.runs import RunKind, TestRunStore
from mockloop.testing.sessions.schedule_store import ScheduleStore
from mockloop.testing.sessions.store import TestSessionStore

__all__ = ["ClientStores", "ContextStoreHolder", "CurrentSession", "RunRecorder"]


class ContextStoreHolder:
    """The client's context store: the `contexts` schema of `MOCKLOOP_DATABASE_URL` when it is
    set, else `contexts.db` in its state folder. Opening it migrates it, so that happens on
    the first context operation (in a worker thread), not when the client is made."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._store: SQLContextStore | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether the store is open now."""
        return self._store is not None

    def open(self) -> ContextStore:
        """The store, opened and migrated on the first call (blocking)."""
        with self._lock:
            if self._store is None:
                with using_home(self.settings.home):
                    self._store = SQLContextStore(SQLContextStore.resolve(None))
            return self._store

    def close(self) -> None:
        """Close the store if it was opened (idempotent); a later `open` opens it again."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()


class ClientStores:
    """The stores of one client's state folder (or of `MOCKLOOP_DATABASE_URL`), each made once,
    on the first call that uses it.

    Making a store only resolves its location; each opens connections per use. A location that
    cannot be used (a bad `MOCKLOOP_DATABASE_URL`) fails the calls that need that store, with
    its ConfigError, not the making of the client (an MCP server still starts and says why).
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.contexts = ContextStoreHolder(settings)

    @cached_property
    def test_runs(self) -> TestRunStore:
        """Every testing run (test_runs.db)."""
        with using_home(self.settings.home):
            return TestRunStore()

    @cached_property
    def sessions(self) -> TestSessionStore:
        """Test sessions (sessions.db)."""
        with using_home(self.settings.home):
            return TestSessionStore()

    @cached_property
    def schedules(self) -> ScheduleStore:
        """Schedules (sessions.db)."""
        with using_home(self.settings.home):
            return ScheduleStore()

    @cached_property
    def load_runs(self) -> LoadRunStore:
        """Load runs and their progress (load_runs.db)."""
        with using_home(self.settings.home):
            return LoadRunStore()

    def close(self) -> None:
        """Close what holds connections between calls (the context store)."""
        self.contexts.close()


class CurrentSession:
    """The test session opened by create_test_session and not yet ended: runs made by the
    client land in it unless a call names another session."""

    def __init__(self) -> None:
        self.session_id: str | None = None


class RunRecorder:
    """Keeps each testing run in `test_runs.db`, in the session it belongs to.

    Args:
        stores: the client's stores.
        current: the client's open test session.
        work: the client's blocking work.
    """

    def __init__(self, stores: ClientStores, current: CurrentSession, work: BlockingWork) -> None:
        self.stores = stores
        self.current = current
        self.work = work

    async def record(
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
    ) -> str | None:
        """Keep a testing run; return the session it landed in (or None).

        The run lands in `session_id` when given, else in the client's open test session.
        """
        session = session_id or self.current.session_id
        await self.work.run(
            self.stores.test_runs.save,
            run_id=run_id,
            kind=kind,
            status=status,
            server_url=server_url,
            started_at=started_at,
            finished_at=finished_at,
            summary=summary,
            result=result,
            session_id=session,
            context_id=context_id,
        )
        return session
