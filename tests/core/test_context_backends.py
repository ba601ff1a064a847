"""The context store on both backends: opening, broken connections, and processes killed
mid-update (SQLite files, and PostgreSQL with `MOCKLOOP_DATABASE_URL` set, via `database`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime as real_datetime
from pathlib import Path
from typing import Any

import pytest

from mockloop.context import ContextStore, SQLContextStore, default_context_store_path
from mockloop.errors import StoreError
from mockloop.store.database import Location
from tests.conftest import ROOT
from tests.waiting import wait_for


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


# -- opening ----------------------------------------------------------------------------------


def test_store_opens_on_either_backend(database: Any, tmp_path: Path) -> None:
    where = database.location("contexts", tmp_path / "c.db")
    store = SQLContextStore(where)
    assert isinstance(store, ContextStore) and store.location == where
    assert store.applied_migrations == [1]
    again = SQLContextStore(where)
    assert again.applied_migrations == []
    # Without a location the store follows MOCKLOOP_DATABASE_URL (else MOCKLOOP_HOME).
    default = SQLContextStore()
    assert default.location.backend == database.backend
    if database.backend == "postgresql":
        assert default.location == where and default.path is None
    else:
        assert default.path == default_context_store_path().resolve()
    created = store.create("workflow", "w", data={"at": real_datetime(2026, 1, 2, 3, 4, 5, 6)})
    read = again.get(created.id)
    assert read is not None and read.data == {"at": real_datetime(2026, 1, 2, 3, 4, 5, 6)}
    assert read.created_at == created.created_at  # timestamps keep every digit
    for opened in (store, again, default):
        opened.close()
    with pytest.raises(StoreError, match="closed") as error:
        store.get(created.id)
    assert str(where) in str(error.value)


def test_a_broken_postgresql_connection_is_replaced(database: Any, tmp_path: Path) -> None:
    if database.backend != "postgresql":
        pytest.skip("SQLite connections do not break")
    import psycopg

    store = SQLContextStore(database.location("contexts", tmp_path / "c.db"))
    cid = store.create("agent", "a").id
    backend_pid = store._transactions.read(
        "find the session", lambda conn: conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    )
    with psycopg.connect(database.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend_pid,))
    # The next call finds its connection dead before it began, and opens a new one.
    assert store.update(cid, {"x": 1})[0].version == 2
    store.close()


# -- processes killed mid-update ---------------------------------------------------------------

# How a child process opens the test's store: the SQLite file, or the PostgreSQL schema of
# MOCKLOOP_DATABASE_URL (in the environment, so the password stays out of the command line).
_OPEN = """
import os
from mockloop.context import SQLContextStore
from mockloop.store.database import Location

def open_store(kind, where, **options):
    if kind == "sqlite":
        return SQLContextStore(Location.sqlite(where), **options)
    url = os.environ["MOCKLOOP_DATABASE_URL"]
    return SQLContextStore(Location.postgresql(url, where), **options)
"""


def _where(location: Location) -> list[str]:
    """The arguments naming `location` to a child process (see `_OPEN`)."""
    if location.backend == "sqlite":
        return ["sqlite", str(location.path)]
    return ["postgresql", str(location.schema)]


_LOOPER = _OPEN + textwrap.dedent(
    """
    import sys
    from datetime import datetime

    store = open_store(sys.argv[1], sys.argv[2])
    ids = sys.argv[3:]
    print("running", flush=True)
    i = 0
    while True:
        i += 1
        context_id = ids[i % len(ids)]
        store.update(
            context_id,
            {"i": i, "double": 2 * i, "at": datetime.now(), "blob": "x" * (1000 + i % 500)},
        )
        if i % 7 == 0:
            store.create_snapshot(context_id, f"at-{i}")
    """
)


def _consistent(store: SQLContextStore, context_id: str) -> int:
    """Check one context against its history and snapshots; return its version."""
    record = store.get(context_id)
    assert record is not None
    history = store.history(context_id, limit=100_000)
    assert [h.version for h in history] == list(range(1, record.version + 1))
    if record.version > 1:
        data = record.data
        assert data["double"] == 2 * data["i"]
        assert len(data["blob"]) == 1000 + data["i"] % 500
        assert history[-1].changes["i"]["new"] == data["i"]
        assert history[-1].changes["at"]["new"] == data["at"]
    for snapshot in store.list_snapshots(context_id):
        assert snapshot.data["double"] == 2 * snapshot.data["i"]
        assert snapshot.version <= record.version
    return record.version


def test_sigkill_mid_update_leaves_every_context_consistent(database: Any, tmp_path: Path) -> None:
    where = database.location("contexts", tmp_path / "contexts.db")
    store = SQLContextStore(where)
    ids = [store.create("workflow", f"w{n}").id for n in range(3)]
    looper = _spawn(_LOOPER, *_where(where), *ids)
    torn: list[str] = []
    stop = threading.Event()

    def read_while_writing() -> None:
        reader = SQLContextStore(where)
        while not stop.is_set():
            for cid in ids:
                data = reader.get(cid).data  # type: ignore[union-attr]
                if data and data["double"] != 2 * data["i"]:
                    torn.append(cid)

    reading = threading.Thread(target=read_while_writing)
    try:
        assert looper.stdout is not None and looper.stdout.readline().strip() == "running"
        reading.start()

        def progressed() -> bool:
            assert looper.poll() is None, looper.stderr.read() if looper.stderr else ""
            return sum(store.get(cid).version for cid in ids) >= 600  # type: ignore[union-attr]

        wait_for(progressed, "the writer to make 600 changes", timeout=20, every=0.01)
        looper.send_signal(signal.SIGKILL)
        looper.wait(timeout=10)
    finally:
        stop.set()
        if reading.is_alive():
            reading.join(timeout=10)
        if looper.poll() is None:
            looper.kill()
            looper.wait()
    assert looper.returncode == -signal.SIGKILL
    assert torn == []

    after = SQLContextStore(where)  # a fresh opener, as the next process would be
    versions = [_consistent(after, cid) for cid in ids]
    assert sum(versions) >= 600
    # The killed writer holds no lock: the next change goes through at once.
    fresh = {"i": 500, "double": 1000, "at": real_datetime.now(), "blob": "x" * 1000}
    record, entry = after.update(ids[0], fresh, merge=False)
    assert entry is not None and record.version == versions[0] + 1
    _consistent(after, ids[0])


_STALLER = _OPEN + textwrap.dedent(
    """
    import sys
    import time

    store = open_store(sys.argv[1], sys.argv[2])

    def stall(*args, **kwargs):
        # The row is updated and the write lock held; its history entry is not written yet.
        print("holding", flush=True)
        time.sleep(3600)

    store._append_history = stall
    store.update(sys.argv[3], {"i": 999, "double": 0, "blob": "half"}, merge=False)
    """
)


def test_sigkill_of_a_writer_holding_the_lock_loses_nothing(database: Any, tmp_path: Path) -> None:
    """A process killed inside its write transaction: readers never see its change, writers
    wait for its lock, and once it is gone (on PostgreSQL: once the server sees the socket
    closed) the next writer goes through and every context is consistent."""
    where = database.location("contexts", tmp_path / "contexts.db")
    store = SQLContextStore(where)
    cid = store.create("workflow", "held").id
    start = {"i": 1, "double": 2, "at": real_datetime.now(), "blob": "x" * 1001}
    before, _ = store.update(cid, start)
    staller = _spawn(_STALLER, *_where(where), cid)
    try:
        assert staller.stdout is not None
        assert staller.stdout.readline().strip() == "holding", (
            staller.stderr.read() if staller.stderr else ""
        )
        # Readers see the last committed state, at once.
        began = time.monotonic()
        assert _consistent(store, cid) == before.version == 2
        assert store.get(cid).data == start  # type: ignore[union-attr]
        assert time.monotonic() - began < 2
        # Writers wait for the lock, and give up after their busy timeout.
        impatient = SQLContextStore(where, busy_timeout=0.5)
        with pytest.raises(StoreError, match="stayed locked by another writer") as error:
            impatient.update(cid, {"i": 2, "double": 4})
        assert str(where) in str(error.value)
        impatient.close()
        staller.send_signal(signal.SIGKILL)
        staller.wait(timeout=10)
    finally:
        if staller.poll() is None:
            staller.kill()
            staller.wait()
    assert staller.returncode == -signal.SIGKILL

    after = SQLContextStore(where)  # a fresh opener, as the next process would be
    assert _consistent(after, cid) == 2 and after.get(cid).data == start  # type: ignore[union-attr]
    fresh = {"i": 3, "double": 6, "at": real_datetime.now(), "blob": "x" * 1003}
    record, entry = after.update(cid, fresh, merge=False)
    assert entry is not None and record.version == 3
    assert _consistent(after, cid) == 3
    assert _consistent(store, cid) == 3
    for opened in (store, after):
        opened.close()
