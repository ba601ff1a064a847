"""The run stores on both backends: load runs, test runs, sessions and schedules.

Each test runs once on SQLite files and once on PostgreSQL (the `database` fixture): rows
round-trip with their JSON columns decoded, upserts replace, filters and orders hold, an
ended session or a finished schedule is not changed twice, and schedules and sessions share
one store.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mockloop.errors import StoreError
from mockloop.load.store import LoadRunStore
from mockloop.store.database import Location
from mockloop.testing.runs import TestRunStore
from mockloop.testing.sessions.schedule_store import PROCESS, ScheduleStore
from mockloop.testing.sessions.schedules import ScheduleTiming, TestSuite, parse_schedule_config
from mockloop.testing.sessions.store import TestSessionStore


def _load_result(run_id: str, started: float, status: str = "running") -> dict:
    return {
        "run_id": run_id,
        "status": status,
        "server_url": "http://127.0.0.1:1",
        "engine": "native",
        "started_at": started,
        "finished_at": None if status == "running" else started + 1.5,
        "histogram": "HISTFAAAA==",
    }


def test_load_runs_round_trip_and_list_newest_first(database, tmp_path: Path) -> None:
    store = LoadRunStore(database.location("load_runs", tmp_path / "load_runs.db"))
    assert store.get("nope") is None and store.list() == []
    base = 1764600000.123456
    store.save(_load_result("a", base), progress={"requests": 0})
    store.update_progress("a", {"requests": 12, "elapsed": 0.5})
    store.save(_load_result("b", base + 1, "completed"))
    row = store.get("a")
    assert row is not None
    assert row["status"] == "running" and row["progress"] == {"requests": 12, "elapsed": 0.5}
    assert row["started_at"] == base  # a timestamp keeps its sub-millisecond digits
    assert row["finished_at"] is None and row["engine"] == "native"
    assert row["result"]["histogram"] == "HISTFAAAA=="
    # Saving again replaces the row (the run finished).
    store.save(_load_result("a", base, "completed"), progress=None)
    done = store.get("a")
    assert done is not None and done["status"] == "completed" and done["progress"] is None
    assert done["finished_at"] == base + 1.5
    assert [r["id"] for r in store.list()] == ["b", "a"]
    assert [r["id"] for r in store.list(limit=1)] == ["b"]
    assert store.list(status="running") == []


def test_load_runs_default_location_follows_the_environment(database) -> None:
    store = LoadRunStore()
    assert store.location.backend == database.backend
    store.save(_load_result("env", time.time()))
    assert [r["id"] for r in LoadRunStore().list()] == ["env"]


def test_test_runs_round_trip_filter_and_order(database, tmp_path: Path) -> None:
    store = TestRunStore(database.location("test_runs", tmp_path / "test_runs.db"))
    base = 1764600000.5
    store.save(
        run_id="p1",
        kind="test_plan",
        status="passed",
        server_url="http://x",
        started_at=base,
        finished_at=base + 2,
        summary={"total": 3, "passed": 3},
        result={"steps": [1, 2, 3]},
        session_id="s1",
        context_id="c1",
    )
    store.save(
        run_id="l1", kind="load", status="running", server_url="http://x", started_at=base + 1
    )
    store.save(
        run_id="sec", kind="security", status="completed", server_url="http://y",
        started_at=base + 2, session_id="s1",
    )  # fmt: skip
    row = store.get("p1")
    assert row is not None
    assert row["summary"] == {"total": 3, "passed": 3} and row["result"] == {"steps": [1, 2, 3]}
    assert (row["session_id"], row["context_id"], row["finished_at"]) == ("s1", "c1", base + 2)
    bare = store.get("l1")
    assert bare is not None and bare["summary"] == {} and bare["result"] is None
    assert [r["id"] for r in store.list()] == ["p1", "l1", "sec"]
    assert "result" not in store.list()[0]
    assert store.list(with_result=True)[0]["result"] == {"steps": [1, 2, 3]}
    assert [r["id"] for r in store.list(session_id="s1")] == ["p1", "sec"]
    assert [r["id"] for r in store.list(kind="load")] == ["l1"]
    assert [r["id"] for r in store.list(context_id="c1")] == ["p1"]
    assert [r["id"] for r in store.list(since=base + 1)] == ["l1", "sec"]
    assert [r["id"] for r in store.list(limit=2)] == ["p1", "l1"]
    # Saving again replaces the row (a background load run finished).
    store.save(
        run_id="l1", kind="load", status="completed", server_url="http://x", started_at=base + 1,
        finished_at=base + 3, summary={"requests": 40},
    )  # fmt: skip
    again = store.get("l1")
    assert again is not None and again["status"] == "completed"
    assert again["summary"] == {"requests": 40}
    with pytest.raises(ValueError, match="unknown run kind"):
        store.save(run_id="x", kind="nope", status="s", server_url="u", started_at=1.0)  # type: ignore[arg-type]


def test_sessions_are_created_listed_and_ended_once(database, tmp_path: Path) -> None:
    store = TestSessionStore(database.location("sessions", tmp_path / "sessions.db"))
    first = store.create(name="first", config={"env": "ci"})
    second = store.create(name="second", test_plan={"name": "checkout"}, created_by="me")
    assert first["status"] == "active" and first["config"] == {"env": "ci"}
    got = store.get(second["id"])
    assert got is not None and got == second
    assert got["test_plan"] == {"name": "checkout"} and got["report"] is None
    assert store.get("session-nope") is None
    assert [s["id"] for s in store.list()] == [second["id"], first["id"]]
    assert [s["id"] for s in store.list(limit=1)] == [second["id"]]
    assert store.end(second["id"], {"verdict": "pass"})
    assert not store.end(second["id"], {"verdict": "fail"})  # already ended: unchanged
    ended = store.get(second["id"])
    assert ended is not None and ended["status"] == "ended" and ended["ended_at"] is not None
    assert ended["report"] == {"verdict": "pass"}
    assert [s["id"] for s in store.list(status="ended")] == [second["id"]]
    assert [s["id"] for s in store.list(status="active")] == [first["id"]]
    assert store.end(first["id"], None) and store.get(first["id"])["report"] is None  # type: ignore[index]


def _suite() -> TestSuite:
    return TestSuite.model_validate(
        {
            "name": "smoke",
            "tests": [
                {"operation": "run_load_test", "arguments": {"server_url": "http://127.0.0.1:9"}}
            ],
        }
    )


def _timing() -> ScheduleTiming:
    timing = parse_schedule_config({"interval_seconds": 60}).timing
    assert timing is not None
    return timing


def test_schedules_and_their_suite_runs(database, tmp_path: Path) -> None:
    where = database.location("sessions", tmp_path / "sessions.db")
    sessions, store = TestSessionStore(where), ScheduleStore(where)
    session = sessions.create(name="smoke", created_by="schedule_test_suite")
    row = store.create(
        suite=_suite(), timing=_timing(), notification=None, session_id=session["id"],
        next_run_at=1764600060.25,
    )  # fmt: skip
    sid = row["id"]
    assert row["status"] == "active" and row["runs_done"] == 0 and row["notification"] is None
    assert row["suite"]["name"] == "smoke" and row["timing"]["interval_seconds"] == 60
    assert row["notification_errors"] == [] and row["last_outcome"] is None
    assert (row["owner_pid"], row["owner_token"]) == (PROCESS.pid, PROCESS.token)
    assert store.status(sid) == "active" and store.status("nope") is None
    # Sessions and schedules share one store.
    assert [s["id"] for s in store.list(session_id=session["id"])] == [sid]
    assert sessions.get(session["id"]) is not None

    started = store.start_run(sid, 1, session["id"], 1764600060.25)
    store.start_run(sid, 1, session["id"], 1764600060.25)  # a retried start replaces the row
    tests = [{"operation": "run_load_test", "run_id": "load-1", "error": None}]
    store.finish_run(sid, 1, outcome="passed", tests=tests, next_run_at=1764600120.5, error=None)
    store.start_run(sid, 2, session["id"], 1764600120.5)
    store.finish_run(sid, 2, outcome="cancelled", tests=[], next_run_at=None, error="stopped")
    runs = store.runs(schedule_id=sid)
    assert [(r["seq"], r["outcome"]) for r in runs] == [(1, "passed"), (2, "cancelled")]
    assert runs[0]["tests"] == tests and runs[0]["started_at"] >= started
    assert runs[0]["finished_at"] is not None and runs[1]["tests"] == []
    assert [r["seq"] for r in store.runs(session_id=session["id"])] == [1, 2]
    assert store.runs(session_id="other") == []
    after = store.get(sid)
    assert after is not None
    assert after["runs_done"] == 1  # the cancelled suite run is kept, not counted
    assert after["last_outcome"]["seq"] == 2 and after["last_error"] == "stopped"
    assert after["next_run_at"] is None

    for n in range(25):
        store.add_notification_error(sid, f"error {n}")
    errors = store.get(sid)["notification_errors"]  # type: ignore[index]
    assert len(errors) == 20 and errors[-1]["error"] == "error 24"

    store.runner_exited(sid)
    assert store.get(sid)["runner_exited_at"] is not None  # type: ignore[index]
    store.claim(sid, next_run_at=1764600180.0, suite=_suite(), notification=None)
    claimed = store.get(sid)
    assert claimed is not None
    assert claimed["runner_exited_at"] is None and claimed["next_run_at"] == 1764600180.0
    assert store.finish(sid, "cancelled", "its session ended")
    assert not store.finish(sid, "completed", "late")  # no longer active: unchanged
    final = store.get(sid)
    assert final is not None and final["status"] == "cancelled"
    assert final["ended_reason"] == "its session ended" and final["next_run_at"] is None
    # finish_run after the end keeps next_run_at cleared.
    store.start_run(sid, 3, session["id"], 1764600180.0)
    store.finish_run(sid, 3, outcome="passed", tests=[], next_run_at=1764600240.0, error=None)
    assert store.get(sid)["next_run_at"] is None  # type: ignore[index]


def test_concurrent_notification_errors_are_all_kept(database, tmp_path: Path) -> None:
    where = database.location("sessions", tmp_path / "sessions.db")
    store = ScheduleStore(where)
    row = store.create(
        suite=_suite(), timing=_timing(), notification=None, session_id="s", next_run_at=None
    )

    def add(worker: int) -> None:
        for n in range(4):
            ScheduleStore(where).add_notification_error(row["id"], f"{worker}-{n}")

    threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = store.get(row["id"])["notification_errors"]  # type: ignore[index]
    assert sorted(e["error"] for e in errors) == sorted(
        f"{w}-{n}" for w in range(4) for n in range(4)
    )


def test_the_default_stores_follow_the_environment(database) -> None:
    stores = (LoadRunStore(), TestRunStore(), TestSessionStore(), ScheduleStore())
    assert {s.location.backend for s in stores} == {database.backend}
    if database.backend == "postgresql":
        schemas = [s.location.schema for s in stores]
        assert (
            schemas
            == [f"{database.prefix}_{n}" for n in ("load_runs", "test_runs")]
            + [f"{database.prefix}_sessions"] * 2
        )
    session = TestSessionStore().create(name="shared")
    assert ScheduleStore().list(session_id=session["id"]) == []
    assert [s["id"] for s in TestSessionStore().list()] == [session["id"]]
    TestRunStore().list()
    LoadRunStore().list()
    files = sorted(p.name for p in Path(os.environ["MOCKLOOP_HOME"]).glob("*.db"))
    expected = ["load_runs.db", "sessions.db", "test_runs.db"]
    assert files == (expected if database.backend == "sqlite" else [])


def test_an_unreachable_store_names_its_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = TestRunStore(blocker / "test_runs.db")
    with pytest.raises(StoreError, match=rf"^{blocker}/test_runs.db: could not open"):
        store.list()
    down = TestSessionStore(
        Location.postgresql("postgresql://u:secret@127.0.0.1:1/db", "mockloop_sessions"),
        busy_timeout=1,
    )
    with pytest.raises(StoreError) as caught:
        down.list()
    assert str(caught.value).startswith("postgresql://u:***@127.0.0.1:1/db (schema mockloop_s")
    assert "secret" not in str(caught.value) and "could not open the session store" in str(
        caught.value
    )
