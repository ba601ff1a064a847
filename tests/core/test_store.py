"""The mock's store on SQLite and PostgreSQL: migrations, scenarios, overrides, log search,
eviction, export/import, and the config version replicas follow."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from mockloop.errors import ConfigError, ScenarioError, StoreError
from mockloop.store import SQLiteStore, SQLStore, Store, open_store
from mockloop.store.migrations import MIGRATIONS, Migration


@pytest.fixture
def store(database, tmp_path: Path):
    s = SQLStore(database.location("mock_test", tmp_path / "store.db"))
    yield s
    s.close()


def _where(database, tmp_path: Path, name: str = "m"):
    return database.location(f"mock_{name}", tmp_path / f"{name}.db")


def _row(ts: float, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ts": ts,
        "method": "GET",
        "path": "/pets",
        "status": 200,
        "latency_ms": 1.0,
        "request_headers": {"accept": "application/json"},
        "response_headers": {"content-type": "application/json"},
    }
    row.update(fields)
    return row


# -- opening and migrations ---------------------------------------------------------------------


def test_open_creates_parent_folders_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "mock.db"
    with SQLiteStore(path) as store:
        assert isinstance(store, Store)
        assert path.exists()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


_NEXT = len(MIGRATIONS) + 1  # the version a test's extra migration takes


def test_migrations_apply_once_and_reopen_is_idempotent(database, tmp_path: Path) -> None:
    path = _where(database, tmp_path)
    everything = [m.version for m in MIGRATIONS]
    first = SQLStore(path)
    assert first.applied_migrations == everything
    first.put_scenario("kept", {"rules": []})
    first.close()

    second = SQLStore(path)
    assert second.applied_migrations == []
    assert second.schema_version() == everything[-1]
    assert second.get_scenario("kept") is not None
    second.close()


def test_a_new_migration_is_applied_once_on_reopen(database, tmp_path: Path) -> None:
    path = _where(database, tmp_path)
    SQLStore(path).close()
    extended = (
        *MIGRATIONS,
        Migration(_NEXT, "add a notes table", ("CREATE TABLE notes (id INTEGER PRIMARY KEY)",)),
    )
    upgraded = SQLStore(path, migrations=extended)
    assert upgraded.applied_migrations == [_NEXT]
    assert upgraded.schema_version() == _NEXT
    upgraded.close()
    again = SQLStore(path, migrations=extended)
    assert again.applied_migrations == []
    again.close()


def test_a_failing_migration_leaves_the_database_unchanged(database, tmp_path: Path) -> None:
    path = _where(database, tmp_path)
    SQLStore(path).close()
    broken = (
        *MIGRATIONS,
        Migration(_NEXT, "broken", ("CREATE TABLE fine (id INTEGER)", "THIS IS NOT SQL")),
    )
    with pytest.raises(StoreError, match=r"m\.db" if database.backend == "sqlite" else "mock_m"):
        SQLStore(path, migrations=broken)
    with SQLStore(path) as store:
        assert store.schema_version() == _NEXT - 1
    # The half-applied step left nothing behind: applying a correct version of it works.
    fixed = (*MIGRATIONS, Migration(_NEXT, "fine", ("CREATE TABLE fine (id INTEGER)",)))
    with SQLStore(path, migrations=fixed) as store:
        assert store.applied_migrations == [_NEXT]


def test_a_database_from_a_newer_version_is_refused(database, tmp_path: Path) -> None:
    path = _where(database, tmp_path)
    extended = (*MIGRATIONS, Migration(_NEXT, "future", ("CREATE TABLE future (id INTEGER)",)))
    SQLStore(path, migrations=extended).close()
    with pytest.raises(StoreError, match="newer"):
        SQLStore(path)


def test_a_file_that_is_not_a_database_raises_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a sqlite file at all" * 200)
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert "junk.db" in str(info.value)
    assert "could not open" in str(info.value)


@pytest.mark.parametrize("path", ["", ":memory:"])
def test_in_memory_databases_are_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="database file"):
        SQLiteStore(path)


def test_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.list_scenarios()


def test_open_store_accepts_paths_and_sqlite_urls(tmp_path: Path) -> None:
    with open_store(tmp_path / "p.db") as by_path:  # type: ignore[attr-defined]
        assert Path(by_path.path) == (tmp_path / "p.db").resolve()
    url = f"sqlite:///{tmp_path / 'u.db'}"  # tmp_path is absolute: sqlite:////abs/u.db
    with open_store(url) as by_url:  # type: ignore[attr-defined]
        assert Path(by_url.path) == (tmp_path / "u.db").resolve()
    with pytest.raises(ConfigError, match="unknown scheme"):
        open_store("mysql://localhost/x")


# -- scenarios ------------------------------------------------------------------------------------


def test_scenario_crud(store: SQLiteStore) -> None:
    assert store.list_scenarios() == []
    assert store.get_scenario("happy") is None

    created = store.put_scenario("happy", {"rules": [{"status": 200}]})
    assert created["name"] == "happy"
    assert created["config"] == {"rules": [{"status": 200}]}
    assert created["active"] is False
    assert created["created_at"] == created["updated_at"]

    store.set_active_scenario("happy")
    replaced = store.put_scenario("happy", {"rules": []})
    assert replaced["config"] == {"rules": []}
    assert replaced["created_at"] == created["created_at"]
    assert replaced["updated_at"] >= created["updated_at"]
    assert replaced["active"] is True  # replacing keeps the activation

    store.put_scenario("errors", {"rules": [{"status": 500}]})
    assert [s["name"] for s in store.list_scenarios()] == ["errors", "happy"]
    assert store.get_scenario("errors")["config"] == {"rules": [{"status": 500}]}  # type: ignore[index]

    assert store.delete_scenario("errors") is True
    assert store.delete_scenario("errors") is False
    assert [s["name"] for s in store.list_scenarios()] == ["happy"]


def test_at_most_one_scenario_is_active(store: SQLiteStore) -> None:
    for name in ("a", "b", "c"):
        store.put_scenario(name, {})
    assert store.active_scenario() is None

    store.set_active_scenario("a")
    store.set_active_scenario("b")
    assert store.active_scenario() == "b"
    assert [s["name"] for s in store.list_scenarios() if s["active"]] == ["b"]

    with pytest.raises(ScenarioError, match=r"unknown scenario 'zzz'.*a, b, c"):
        store.set_active_scenario("zzz")
    assert store.active_scenario() == "b"  # the failed activation changed nothing

    store.set_active_scenario(None)
    assert store.active_scenario() is None

    store.set_active_scenario("c")
    store.delete_scenario("c")
    assert store.active_scenario() is None


def test_the_database_itself_rejects_two_active_scenarios(store: SQLiteStore) -> None:
    store.put_scenario("a", {})
    store.put_scenario("b", {})
    store.set_active_scenario("a")
    from mockloop.store.database import IntegrityError, connect

    raw = connect(store.location)
    try:
        with pytest.raises(IntegrityError):
            raw.execute("UPDATE scenarios SET active = 1 WHERE name = 'b'")
    finally:
        raw.close()


# -- response overrides ---------------------------------------------------------------------------


def test_override_crud(store: SQLiteStore) -> None:
    assert store.list_overrides() == {}
    store.put_override("getPet", {"status": 404})
    store.put_override("GET /pets", {"status": 200, "body": []})
    store.put_override("getPet", {"status": 410})
    assert store.list_overrides() == {
        "GET /pets": {"status": 200, "body": []},
        "getPet": {"status": 410},
    }
    assert store.delete_override("getPet") is True
    assert store.delete_override("getPet") is False
    assert store.clear_overrides() == 1
    assert store.list_overrides() == {}
    with pytest.raises(ConfigError):
        store.put_override("", {})


# -- request log ----------------------------------------------------------------------------------


@pytest.fixture
def logged(store: SQLiteStore) -> SQLiteStore:
    store.insert_log_rows(
        [
            _row(
                100.0, path="/pets", operation_id="listPets", session_id="s1", correlation_id="c1"
            ),
            _row(101.0, path="/pets/1", operation_id="getPet", status=404, session_id="s1"),
            _row(102.0, method="POST", path="/pets", operation_id="createPet", status=201),
            _row(103.0, path="/pets/2", operation_id="getPet", status=500, session_id="s2"),
            _row(104.0, path="/owners/7/pets", operation_id=None, status=404),
            _row(105.0, method="DELETE", path="/pets/3", operation_id="deletePet", status=204),
        ]
    )
    return store


def _ts(rows: list[dict[str, Any]]) -> list[float]:
    return [r["ts"] for r in rows]


def test_rows_come_back_with_headers_as_dicts(logged: SQLiteStore) -> None:
    row = logged.search_logs(limit=1, newest_first=False)[0]
    assert row["id"] == 1
    assert row["request_headers"] == {"accept": "application/json"}
    assert row["response_headers"] == {"content-type": "application/json"}
    assert row["truncated"] is False
    assert row["query"] == ""
    assert row["correlation_id"] == "c1"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [105.0, 104.0, 103.0, 102.0, 101.0, 100.0]),
        ({"method": "post"}, [102.0]),
        ({"path_regex": r"^/pets/\d+$"}, [105.0, 103.0, 101.0]),
        ({"path_regex": "owners"}, [104.0]),
        ({"status": 404}, [104.0, 101.0]),
        ({"status": "404"}, [104.0, 101.0]),
        ({"status": "4xx"}, [104.0, 101.0]),
        ({"status": "2XX"}, [105.0, 102.0, 100.0]),
        ({"status": "5xx"}, [103.0]),
        ({"operation_id": "getPet"}, [103.0, 101.0]),
        ({"time_from": 101.0, "time_to": 103.0}, [103.0, 102.0, 101.0]),
        ({"time_from": 104.5}, [105.0]),
        ({"time_to": 100.0}, [100.0]),
        ({"session_id": "s1"}, [101.0, 100.0]),
        ({"correlation_id": "c1"}, [100.0]),
        ({"operation_id": "getPet", "status": "4xx"}, [101.0]),
        ({"method": "GET", "path_regex": "^/pets", "session_id": "s2"}, [103.0]),
    ],
)
def test_search_by_each_filter(
    logged: SQLiteStore, filters: dict[str, Any], expected: list[float]
) -> None:
    assert _ts(logged.search_logs(**filters)) == expected
    assert logged.count_logs(**filters) == len(expected)


def test_search_oldest_first_and_pagination(logged: SQLiteStore) -> None:
    assert _ts(logged.search_logs(newest_first=False, limit=2)) == [100.0, 101.0]
    pages = [_ts(logged.search_logs(limit=4, offset=offset)) for offset in (0, 4, 8)]
    assert pages == [[105.0, 104.0, 103.0, 102.0], [101.0, 100.0], []]
    assert _ts(logged.search_logs(status="4xx", limit=1, offset=1)) == [101.0]


def test_invalid_regex_raises_config_error_naming_the_pattern(logged: SQLiteStore) -> None:
    with pytest.raises(ConfigError, match=r"'\(unclosed'"):
        logged.search_logs(path_regex="(unclosed")
    with pytest.raises(ConfigError, match=r"'\[z-a\]'"):
        logged.count_logs(path_regex="[z-a]")


@pytest.mark.parametrize("status", ["6xx", "abc", 99, 600, "4x", True])
def test_invalid_status_filter_raises_config_error(logged: SQLiteStore, status: Any) -> None:
    with pytest.raises(ConfigError, match="status"):
        logged.search_logs(status=status)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -1), ("5", 0)])
def test_invalid_page_raises_config_error(logged: SQLiteStore, limit: Any, offset: Any) -> None:
    with pytest.raises(ConfigError):
        logged.search_logs(limit=limit, offset=offset)


def test_evict_keeps_the_newest_rows(logged: SQLiteStore) -> None:
    assert logged.evict_logs(10) == 0
    assert logged.evict_logs(4) == 2
    assert _ts(logged.search_logs(newest_first=False)) == [102.0, 103.0, 104.0, 105.0]
    assert logged.evict_logs(4) == 0
    logged.insert_log_rows([_row(106.0), _row(107.0)])
    assert logged.evict_logs(3) == 3
    assert _ts(logged.search_logs(newest_first=False)) == [105.0, 106.0, 107.0]
    assert logged.evict_logs(0) == 3
    assert logged.count_logs() == 0
    with pytest.raises(ConfigError):
        logged.evict_logs(-1)


def test_clear_logs_returns_how_many(logged: SQLiteStore) -> None:
    assert logged.clear_logs() == 6
    assert logged.count_logs() == 0
    assert logged.clear_logs() == 0
    logged.insert_log_rows([_row(1.0)])
    assert logged.evict_logs(1) == 0  # ids after a clear still let eviction keep the right rows
    assert logged.count_logs() == 1


def test_insert_is_one_transaction(store: SQLiteStore) -> None:
    # The third row cannot be bound (sqlite fails mid-executemany): none of the rows stay.
    bad = _row(3.0, client=object())
    with pytest.raises(StoreError, match="insert 3 request log rows"):
        store.insert_log_rows([_row(1.0), _row(2.0), bad])
    assert store.count_logs() == 0


def test_backend_errors_become_store_errors_with_the_location(store: SQLStore) -> None:
    # Another connection holds the write lock past the busy timeout.
    fresh = SQLStore(store.location, busy_timeout=0.05)
    blocker = SQLStore(store.location)
    try:
        with blocker._connect("hold the write lock") as conn:
            conn.begin_write()
            try:
                with pytest.raises(StoreError) as info:
                    fresh.put_scenario("x", {})
            finally:
                conn.rollback()
        message = str(info.value)
        assert str(store.location) in message
        assert "save scenario 'x'" in message
        assert "locked" in message or "lock timeout" in message
    finally:
        blocker.close()
        fresh.close()


# -- export / import ------------------------------------------------------------------------------


def test_export_and_import_round_trip(logged: SQLiteStore, tmp_path: Path) -> None:
    logged.put_scenario("happy", {"rules": [1]})
    logged.put_scenario("sad", {"rules": [2]})
    logged.set_active_scenario("sad")
    logged.put_override("getPet", {"status": 418})
    exported = logged.export()
    assert exported["active_scenario"] == "sad"
    assert exported["log_count"] == 6
    assert exported["overrides"] == {"getPet": {"status": 418}}
    assert [s["name"] for s in exported["scenarios"]] == ["happy", "sad"]

    with SQLiteStore(tmp_path / "copy.db") as copy:
        copy.put_scenario("local", {"rules": []})
        copy.import_state(exported)
        assert [s["name"] for s in copy.list_scenarios()] == ["happy", "local", "sad"]
        assert copy.active_scenario() == "sad"
        assert copy.list_overrides() == {"getPet": {"status": 418}}
        assert copy.count_logs() == 0  # logs are never imported

        copy.import_state({"scenarios": {"only": {"rules": []}}}, replace=True)
        assert [s["name"] for s in copy.list_scenarios()] == ["only"]
        assert copy.list_overrides() == {}


def test_import_rejects_bad_documents_and_changes_nothing(store: SQLiteStore) -> None:
    store.put_scenario("keep", {"v": 1})
    with pytest.raises(ConfigError):
        store.import_state({"scenarios": [{"config": {}}]})
    with pytest.raises(ConfigError):
        store.import_state({"overrides": ["not", "a", "mapping"]})
    with pytest.raises(ConfigError):
        store.import_state({"scenarios": {"x": "not an object"}})
    with pytest.raises(ScenarioError, match="ghost"):
        store.import_state({"scenarios": {"new": {}}, "active_scenario": "ghost"}, replace=True)
    assert [s["name"] for s in store.list_scenarios()] == ["keep"]


# -- threads --------------------------------------------------------------------------------------


def test_many_threads_share_one_store(store: SQLiteStore) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                store.put_scenario(f"t{n}-{i}", {"n": n, "i": i})
                store.insert_log_rows([_row(float(i), session_id=f"t{n}")])
                store.search_logs(session_id=f"t{n}", limit=5)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_scenarios()) == 200
    assert store.count_logs() == 200
    assert store.count_logs(session_id="t3") == 25


def test_inserted_values_come_back_exactly(store: SQLiteStore) -> None:
    rows = [
        _row(1_795_470_553.984_168_5, latency_ms=0.123_456_789_012_345_6, path="/ünï/€/\u2603"),
        _row(0.1, status=None, latency_ms=None, operation_id="op", query="a=1&b=%20"),
        _row(2.0, request_body='{"quote": "\\"", "nl": "\\n"}', truncated=True, client=None),
    ]
    store.insert_log_rows(rows)
    stored = store.search_logs(newest_first=False)
    assert [r["ts"] for r in stored] == [0.1, 2.0, 1_795_470_553.984_168_5]
    assert stored[2]["latency_ms"] == 0.123_456_789_012_345_6
    assert stored[2]["path"] == "/ünï/€/\u2603"
    assert stored[0]["status"] is None and stored[0]["latency_ms"] is None
    assert stored[0]["query"] == "a=1&b=%20"
    assert stored[1]["request_body"] == '{"quote": "\\"", "nl": "\\n"}'
    assert stored[1]["truncated"] is True
    assert stored[1]["client"] is None


@pytest.mark.parametrize("count", [1, 6, 7, 8, 15, 29, 100])
def test_batches_are_split_into_multi_row_inserts_in_order(store: SQLiteStore, count: int) -> None:
    store._rows_per_insert = 7  # full statements of 7 rows, the rest in powers of two
    store.insert_log_rows([_row(float(i), path=f"/p/{i}") for i in range(count)])
    stored = store.search_logs(newest_first=False, limit=1000)
    assert [r["path"] for r in stored] == [f"/p/{i}" for i in range(count)]
    assert [r["id"] for r in stored] == list(range(1, count + 1))


def test_close_waits_for_a_call_in_progress_in_another_thread(
    logged: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mockloop.store.sql as sqlite_module

    if logged.backend != "sqlite":
        pytest.skip("the REGEXP callback that holds the call open is SQLite's")

    inside = threading.Event()
    release = threading.Event()

    class SlowPattern:
        def search(self, value: str) -> bool:
            inside.set()
            release.wait(10)
            return True

    monkeypatch.setattr(sqlite_module, "_compile", lambda pattern: SlowPattern())
    monkeypatch.setattr(sqlite_module, "_checked_regex", lambda pattern: pattern)
    results: list[Any] = []
    reader = threading.Thread(target=lambda: results.append(logged.count_logs(path_regex="slow")))
    reader.start()
    assert inside.wait(10)  # the reader is now inside sqlite, in the REGEXP callback
    closer = threading.Thread(target=logged.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # close waits instead of pulling the connection away
    release.set()
    reader.join(10)
    closer.join(10)
    assert not closer.is_alive()
    assert results == [6]
    with pytest.raises(StoreError, match="closed"):
        logged.count_logs()


_CLOSE_RACE = textwrap.dedent(
    """
    import os, sys, threading, time
    from mockloop.store import SQLiteStore

    rows = [{"ts": float(i), "method": "GET", "path": "/x", "request_body": "y" * 500}
            for i in range(2000)]
    for attempt in range(5):
        store = SQLiteStore(os.path.join(sys.argv[1], f"race{attempt}.db"))

        inserting = threading.Event()

        def insert_forever():
            try:
                while True:
                    store.insert_log_rows(rows)
                    inserting.set()
            except Exception:
                inserting.set()

        thread = threading.Thread(target=insert_forever)
        thread.start()
        inserting.wait(30)
        store.close()
        thread.join()
    print("survived")
    """
)


def test_closing_the_store_while_another_thread_inserts_does_not_crash(tmp_path: Path) -> None:
    # Without the per-connection lock this kills the interpreter (SIGSEGV) on the first try,
    # so it runs in a child process.
    child = subprocess.run(
        [sys.executable, "-c", _CLOSE_RACE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "survived"


def test_repeated_bodies_are_stored_once_and_read_back_whole(tmp_path: Path) -> None:
    big = "{" + '"k": "' + "v" * 2000 + '"}'
    other = "x" * 300
    rows = [
        {
            "method": "GET",
            "path": f"/p/{i}",
            "response_body": big if i % 2 else other,
            "request_body": "short",
        }
        for i in range(10)
    ]
    with SQLiteStore(tmp_path / "b.db") as store:
        store.insert_log_rows(rows)
        store.insert_log_rows(rows)
        raw = sqlite3.connect(tmp_path / "b.db")
        try:
            assert raw.execute("SELECT COUNT(*) FROM log_bodies").fetchone() == (2,)
            assert raw.execute(
                "SELECT COUNT(*) FROM request_log WHERE response_body = ''"
            ).fetchone() == (20,)
        finally:
            raw.close()
        found = store.search_logs(limit=100)
        assert len(found) == 20
        assert {r["response_body"] for r in found} == {big, other}
        assert {r["request_body"] for r in found} == {"short"}
        assert "response_body_ref" not in found[0]
        store.insert_log_rows([{"method": "GET", "path": "/new", "response_body": "y" * 400}])
        assert store.evict_logs(keep=1) == 20
        store._collect_bodies_now()
        raw = sqlite3.connect(tmp_path / "b.db")
        try:
            assert raw.execute("SELECT COUNT(*) FROM log_bodies").fetchone() == (1,)
        finally:
            raw.close()
        store.clear_logs()
        assert store.search_logs() == []


def test_many_first_openers_of_a_new_database_all_succeed(tmp_path: Path) -> None:
    """Turning WAL on for a fresh file races: SQLite says "locked" without waiting."""
    from mockloop.store.registry import Registry

    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def first_use(index: int) -> None:
        try:
            start.wait()
            Registry(tmp_path / "registry.db").servers()
        except BaseException as exc:
            errors.append(exc)

    for _round in range(5):
        (tmp_path / "registry.db").unlink(missing_ok=True)
        threads = [threading.Thread(target=first_use, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        start.reset()
    assert errors == []


# -- what replicas follow ---------------------------------------------------------------------


def test_every_config_change_bumps_the_version_seen_by_another_process(
    store: SQLStore,
) -> None:
    other = SQLStore(store.location)  # a second replica on the same store
    try:
        seen = [other.config_version()]

        def changed() -> bool:
            now = other.config_version()
            moved = now > seen[-1]
            seen.append(now)
            return moved

        store.put_scenario("a", {"rules": []})
        assert changed()
        store.set_active_scenario("a")
        assert changed()
        store.put_override("getPet", {"status": 500})
        assert changed()
        store.delete_override("getPet")
        assert changed()
        store.set_active_scenario(None)
        assert changed()
        store.insert_log_rows([_row(1.0)])  # the log is not config
        assert not changed()
        with pytest.raises(ScenarioError):
            store.set_active_scenario("missing")  # refused: rolled back, no bump
        assert not changed()
        assert other.active_scenario() is None
    finally:
        other.close()


def test_replicas_report_what_they_have_seen(store: SQLStore) -> None:
    store.heartbeat("r1", "http://127.0.0.1:1", 3)
    store.heartbeat("r2", None, 1)
    store.heartbeat("r1", "http://127.0.0.1:1", 4)
    rows = store.replicas(max_age=60)
    assert [(r["replica_id"], r["seen_version"]) for r in rows] == [("r1", 4), ("r2", 1)]
    assert store.replicas(max_age=-1) == []
    store.remove_replica("r1")
    assert [r["replica_id"] for r in store.replicas()] == ["r2"]


def test_two_stores_share_scenarios_and_logs(store: SQLStore) -> None:
    other = SQLStore(store.location)
    try:
        store.put_scenario("slow", {"rules": []})
        other.set_active_scenario("slow")
        assert store.active_scenario() == "slow"
        other.insert_log_rows([_row(1.0), _row(2.0)])
        store.insert_log_rows([_row(3.0)])
        assert [r["ts"] for r in store.search_logs(newest_first=False)] == [1.0, 2.0, 3.0]
    finally:
        other.close()


def test_open_store_opens_postgresql_by_url(postgres_url: str, monkeypatch) -> None:
    import uuid

    from tests.postgres import drop_schemas

    prefix = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MOCKLOOP_DATABASE_PREFIX", prefix)
    try:
        with open_store(postgres_url, name="mock_x") as store:  # type: ignore[attr-defined]
            assert store.location.schema == f"{prefix}_mock_x"
            store.put_scenario("s", {"rules": []})
            assert [s["name"] for s in store.list_scenarios()] == ["s"]
    finally:
        drop_schemas(postgres_url, prefix + "_")
