"""The one store base: locations, the store-URL parser, migrations and connection holders.

Every store of MockLoop is a `StoreBase` subclass (or, for the shared stateful data, uses its
`HeldConnection`); these tests pin what the base promises on both backends (the `database`
fixture): where a store lives by default (the file names existing users' data is in), one
parser for store URLs, migrations applied once, per-connection setup, the three ways
connections are held, and fork safety (a child never uses or closes its parent's connection).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mockloop.audit.store import AuditStore
from mockloop.context.sqlite import SQLContextStore
from mockloop.errors import ConfigError, StoreError
from mockloop.load.store import LoadRunStore
from mockloop.mock.webhooks.store import WebhookStore
from mockloop.store import SQLStore, StoreBase, open_store
from mockloop.store.connection import (
    HeldConnection,
    ShortConnections,
    ThreadConnections,
    resolve_location,
)
from mockloop.store.database import Connection, Location, Migration, parse_database_url
from mockloop.store.registry import Registry
from mockloop.testing.runs import TestRunStore
from mockloop.testing.sessions.schedule_store import ScheduleStore
from mockloop.testing.sessions.store import SessionsDatabase, TestSessionStore

_STEPS = (
    Migration(1, "notes", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",)),
)


class _Notes(StoreBase):
    """A store of the test's own, one subclass per way of holding connections."""

    NAME = "notes"
    TITLE = "note store"
    FILE = "notes.db"
    MIGRATIONS = _STEPS
    OPEN_NOW = True
    setups: list[Connection] = []

    @staticmethod
    def setup_connection(conn: Connection) -> None:
        _Notes.setups.append(conn)

    def add(self, text: str) -> None:
        with self._transaction("add a note", write=True) as conn:
            conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))

    def texts(self) -> list[str]:
        with self._connect("read the notes") as conn:
            return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY id")]

    def backend_session(self) -> object:
        """Which connection served the call: the server process on PostgreSQL, the object on
        SQLite."""
        with self._connect("find the session") as conn:
            if conn.dialect == "postgresql":
                return conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            return id(conn.raw)


class _PerUse(_Notes):
    CONNECTIONS = "per_use"


class _PerThread(_Notes):
    CONNECTIONS = "per_thread"


class _Held(_Notes):
    CONNECTIONS = "held"


# -- where a store lives ----------------------------------------------------------------------


def test_one_parser_reads_paths_and_store_urls() -> None:
    assert parse_database_url("data/x.db") == ("sqlite", "data/x.db")
    assert parse_database_url("sqlite:///rel.db") == ("sqlite", "rel.db")
    assert parse_database_url("sqlite:////abs/x.db") == ("sqlite", "/abs/x.db")
    url = "postgresql://me:pw@127.0.0.1:5/db"
    assert parse_database_url(url) == ("postgresql", url)
    assert parse_database_url("POSTGRES://h/db")[0] == "postgresql"
    with pytest.raises(ConfigError, match="unknown scheme 'mysql'") as info:
        parse_database_url("mysql://me:pw@h/db", label="audit URL")
    assert "pw" not in str(info.value) and "audit URL" in str(info.value)


def test_resolve_location_gives_every_store_one_rule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = Location.sqlite(tmp_path / "given.db")
    assert resolve_location("x", made, None) is made
    assert resolve_location("x", tmp_path / "a.db", None) == Location.sqlite(tmp_path / "a.db")
    relative = resolve_location("x", "rel.db", None)
    assert relative.path is not None and relative.path.is_absolute()
    by_url = resolve_location("x", f"sqlite:///{tmp_path / 'u.db'}", None)
    assert by_url == Location.sqlite(tmp_path / "u.db")
    pg = resolve_location("x", "postgresql://h/db", None)
    assert (pg.backend, pg.schema, pg.url) == ("postgresql", "mockloop_x", "postgresql://h/db")
    assert resolve_location("x", None, lambda: home / "x.db") == Location.sqlite(home / "x.db")
    for bad, message in (
        (":memory:", "database file"),
        ("", "database file"),
        ("sqlite://", "names no database file"),
        ("mysql://h/db", "unknown scheme"),
    ):
        with pytest.raises(ConfigError, match=message):
            resolve_location("x", bad, None, title="note store")
    with pytest.raises(ConfigError, match="the note store needs a location"):
        resolve_location("x", None, None, title="note store")


def test_default_locations_keep_their_file_names(tmp_path: Path) -> None:
    # Existing users' data is in these files: a store must open the same one.
    home = Path(os.environ["MOCKLOOP_HOME"])
    expected = {
        Registry: "registry.db",
        LoadRunStore: "load_runs.db",
        TestRunStore: "test_runs.db",
        TestSessionStore: "sessions.db",
        ScheduleStore: "sessions.db",
        SessionsDatabase: "sessions.db",
        AuditStore: "audit.db",
        SQLContextStore: "contexts.db",
    }
    for cls, filename in expected.items():
        assert issubclass(cls, StoreBase)
        assert cls.resolve(None) == Location.sqlite(home / filename), cls
    for cls in (SQLStore, WebhookStore):  # a mock's stores: the runtime names the place
        assert issubclass(cls, StoreBase)
        with pytest.raises(ConfigError, match="needs a location"):
            cls.resolve(None)


def test_default_locations_follow_the_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCKLOOP_DATABASE_URL", "postgresql://u:secret@127.0.0.1:1/db")
    monkeypatch.setenv("MOCKLOOP_DATABASE_PREFIX", "p")
    schemas = {
        cls: cls.resolve(None).schema
        for cls in (Registry, LoadRunStore, TestRunStore, SessionsDatabase, AuditStore)
    }
    assert schemas == {
        Registry: "p_registry",
        LoadRunStore: "p_load_runs",
        TestRunStore: "p_test_runs",
        SessionsDatabase: "p_sessions",
        AuditStore: "p_audit",
    }
    assert SQLContextStore.resolve(None).schema == "p_contexts"
    # open_store(None) stays the SQLite file whatever the URL says.
    with open_store() as store:  # type: ignore[attr-defined]
        assert store.backend == "sqlite"


# -- migrations and setup ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", [_PerUse, _PerThread, _Held])
def test_every_mode_migrates_once_and_sets_up_each_connection(
    database, tmp_path: Path, cls: type[_Notes]
) -> None:
    where = database.location("notes", tmp_path / "notes.db")
    _Notes.setups.clear()
    first = cls(where)
    assert first.applied_migrations == [1]
    assert first.location == where and first.backend == database.backend
    first.add("a")
    second = cls(where)
    assert second.applied_migrations == []
    assert second.texts() == ["a"]
    assert _Notes.setups, "setup_connection never ran"
    first.close()
    second.close()


def test_a_store_opened_at_once_names_its_location_when_it_cannot(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=r"^\S*file/n\.db: could not open the note store"):
        _PerThread(blocker / "n.db")


def test_a_lazy_store_opens_on_first_use(tmp_path: Path) -> None:
    class Lazy(_PerUse):
        OPEN_NOW = False

    store = Lazy(tmp_path / "lazy" / "n.db")
    assert not (tmp_path / "lazy").exists() and store.applied_migrations == []
    store.add("x")
    assert store.texts() == ["x"]


# -- the three holders ------------------------------------------------------------------------


def test_per_use_holds_no_sqlite_connection_and_shares_postgresql_ones(
    database, tmp_path: Path
) -> None:
    where = database.location("notes", tmp_path / "notes.db")
    one, two = _PerUse(where), _PerUse(where)
    if database.backend == "postgresql":
        # One cached connection per thread and location, whichever store object asks.
        assert one.backend_session() == two.backend_session()
    else:
        # Each call opens and closes its own: nothing pins the file between calls.
        seen: list[Connection] = []
        with one._connect("look") as conn:
            seen.append(conn)
        with pytest.raises(Exception, match="closed"):
            seen[0].raw.execute("SELECT 1")


def test_per_thread_gives_each_thread_its_own_connection_and_closes_them_all(
    database, tmp_path: Path
) -> None:
    store = _PerThread(database.location("notes", tmp_path / "notes.db"))
    mine = store.backend_session()
    assert store.backend_session() == mine
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.append(store.backend_session()))
    worker.start()
    worker.join()
    assert theirs and theirs[0] != mine
    store.close()
    with pytest.raises(StoreError, match="the note store is closed"):
        store.texts()


def test_held_connection_serves_every_thread_and_reopens_only_when_asked(
    database, tmp_path: Path
) -> None:
    where = database.location("notes", tmp_path / "notes.db")
    store = _Held(where)
    mine = store.backend_session()
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.append(store.backend_session()))
    worker.start()
    worker.join()
    assert theirs == [mine]
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.texts()

    class Reopening(_Held):
        REOPEN_AFTER_CLOSE = True

    again = Reopening(where)
    again.close()
    assert again.texts() == []
    again.close()


def test_a_backend_failure_names_the_location_and_the_call(database, tmp_path: Path) -> None:
    where = database.location("notes", tmp_path / "notes.db")
    for holder in (
        ShortConnections(where, _STEPS, busy_timeout=5, store="note store"),
        ThreadConnections(where, _STEPS, busy_timeout=5, store="note store"),
        HeldConnection(where, _STEPS, busy_timeout=5, store="note store"),
    ):
        holder.open()
        with (
            pytest.raises(StoreError, match="could not read the nothing table") as info,
            holder.connection("read the nothing table") as conn,
        ):
            conn.execute("SELECT * FROM nothing")
        assert str(where) in str(info.value)
        # The connection is still good (no transaction left open on it).
        with holder.transaction("add a note", write=True) as conn:
            conn.execute("INSERT INTO notes (text) VALUES ('after')")
        holder.close()


# -- fork safety --------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
@pytest.mark.parametrize("cls", [_PerUse, _PerThread, _Held])
def test_a_forked_child_opens_its_own_connection(database, tmp_path: Path, cls) -> None:
    store = cls(database.location("notes", tmp_path / "notes.db"))
    store.add("parent")
    before = store.backend_session()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write through the inherited store object, report, leave at once
        code = 1
        try:
            os.close(read)
            store.add("child")
            other = store.backend_session()
            os.write(
                write, b"other" if other != before or database.backend == "sqlite" else b"same"
            )
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and answer == b"other"
    # The parent's connection is untouched by the child's exit: the same one serves on.
    if cls is not _PerUse or database.backend == "postgresql":
        assert store.backend_session() == before
    assert store.texts() == ["parent", "child"]
    store.close()
