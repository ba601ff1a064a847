"""Two mock replicas on one store answer alike after a change made through either.

The replicas are real `mockloop serve` processes. On PostgreSQL they share the database named by
MOCKLOOP_DATABASE_URL (the `database` fixture's PostgreSQL half); on SQLite they share one data
folder and follow each other with `replica_sync` on (polling, where PostgreSQL notifies).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PETSTORE
from tests.core.test_cli import _free_port
from tests.waiting import wait_for, wait_for_health

KEY = {"X-API-Key": "k"}
BROKEN = {
    "name": "broken",
    "rules": [{"operation": "getPet", "status": 503, "body": {"error": "down"}}],
}
TEAPOT = {"name": "teapot", "rules": [{"operation": "getPet", "status": 418}]}


class Replica:
    def __init__(self, process: subprocess.Popen, port: int, admin_port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.admin = f"http://127.0.0.1:{admin_port}"

    def pet_status(self) -> int:
        return httpx.get(f"{self.url}/pets/1", headers=KEY, timeout=10).status_code


def _start(data_dir: Path | None, *extra: str, env: dict[str, str] | None = None) -> Replica:
    port, admin_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockloop.cli",
            "serve",
            str(PETSTORE),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            *(("--data-dir", str(data_dir)) if data_dir is not None else ()),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    replica = Replica(process, port, admin_port)
    try:
        wait_for_health(replica.admin, process)
    except BaseException:
        process.kill()
        process.communicate(timeout=30)
        raise
    return replica


@pytest.fixture
def replicas(database, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    # On SQLite the replicas share one data folder; on PostgreSQL each has its own folder
    # (nothing in it is used) and the database holds everything.
    shared = database.backend == "sqlite"
    extra = ("--stateful", "--replica-sync") if shared else ("--stateful",)
    first = _start(tmp_path / ("shared" if shared else "a"), *extra)
    try:
        second = _start(tmp_path / ("shared" if shared else "b"), *extra)
    except BaseException:
        first.process.send_signal(signal.SIGTERM)
        first.process.communicate(timeout=30)
        raise
    yield first, second
    for replica in (first, second):
        replica.process.send_signal(signal.SIGTERM)
    for replica in (first, second):
        output, _ = replica.process.communicate(timeout=30)
        assert replica.process.returncode == 0, output


def test_a_scenario_switch_through_either_replica_holds_on_both(replicas) -> None:
    a, b = replicas
    health = httpx.get(f"{a.admin}/health").json()
    assert health["storage"]["other_replicas"] == 1
    assert a.pet_status() == b.pet_status() == 200

    assert httpx.post(f"{a.admin}/api/mock-data/scenarios", json=BROKEN).status_code == 201
    assert httpx.post(f"{a.admin}/api/mock-data/scenarios/broken/activate").status_code == 200
    # No waiting: the switch returned once the other replica served it.
    assert b.pet_status() == 503
    assert a.pet_status() == 503

    assert httpx.post(f"{b.admin}/api/mock-data/scenarios", json=TEAPOT).status_code == 201
    assert httpx.post(f"{b.admin}/api/mock-data/scenarios/teapot/activate").status_code == 200
    assert a.pet_status() == 418
    assert httpx.get(f"{a.admin}/api/mock-data/scenarios/active").json()["active"] == "teapot"

    assert httpx.post(f"{a.admin}/api/mock-data/scenarios/deactivate").status_code == 200
    assert b.pet_status() == 200

    # Overrides follow the same way.
    assert (
        httpx.put(f"{b.admin}/api/mock-data/responses/getPet", json={"status": 404}).status_code
        == 200
    )
    assert a.pet_status() == 404
    assert httpx.delete(f"{a.admin}/api/mock-data/responses/getPet").status_code == 200
    assert b.pet_status() == 200
    # Many switches in a row, alternating replicas: each one holds on the other at once.
    for round_ in range(10):
        via, other = (a, b) if round_ % 2 else (b, a)
        name = "broken" if round_ % 3 else "teapot"
        httpx.post(f"{via.admin}/api/mock-data/scenarios/{name}/activate").raise_for_status()
        assert other.pet_status() == (503 if name == "broken" else 418)


def test_stateful_data_is_shared_between_replicas(replicas) -> None:
    a, b = replicas
    created = httpx.post(f"{a.url}/pets", json={"name": "Rex", "tag": "dog"}, headers=KEY)
    assert created.status_code == 201, created.text
    pet_id = created.json()["id"]
    fetched = httpx.get(f"{b.url}/pets/{pet_id}", headers=KEY)
    assert fetched.status_code == 200 and fetched.json()["name"] == "Rex"
    assert httpx.delete(f"{b.url}/pets/{pet_id}", headers=KEY).status_code in (200, 204)
    assert httpx.get(f"{a.url}/pets/{pet_id}", headers=KEY).status_code == 404


def test_both_replicas_log_into_one_request_log(replicas) -> None:
    a, b = replicas
    for i in range(5):
        httpx.get(f"{a.url}/pets/{i}", headers={**KEY, "X-Session-ID": "shared-log"})
        httpx.get(f"{b.url}/pets/{i}", headers={**KEY, "X-Session-ID": "shared-log"})

    def logged() -> list[dict]:
        found = httpx.get(
            f"{b.admin}/api/logs/search", params={"session_id": "shared-log", "limit": 100}
        ).json()
        return found["records"] if len(found["records"]) >= 10 else []

    assert len(wait_for(logged, "ten records in the shared log")) == 10


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:secret@127.0.0.1:1/db", "could not connect"),
        ("mysql://db/mockloop", "unknown scheme 'mysql'"),
    ],
)
def test_a_bad_database_is_one_clear_error_before_serving(
    tmp_path: Path, url: str, expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "serve", str(PETSTORE), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MOCKLOOP_DATABASE_URL": url},
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert "Press Ctrl-C" not in result.stdout  # nothing was served


class _FakeRuntime:
    """What ReplicaSync needs of a runtime: its store, its admin URL, a way to reload."""

    def __init__(self, store) -> None:
        self.store = store
        self.admin_url = "http://127.0.0.1:1"
        self.reloads = 0

    def require_store(self):
        return self.store

    def reload_rules(self) -> None:
        self.reloads += 1


def test_a_change_waits_for_every_live_replica_and_names_the_laggard(
    database, tmp_path: Path
) -> None:
    from mockloop.mock.replicas import ReplicaSync
    from mockloop.store import SQLStore

    store = SQLStore(database.location("mock_sync", tmp_path / "sync.db"))
    try:
        runtime = _FakeRuntime(store)
        sync = ReplicaSync(runtime, sync_timeout=0.3)  # type: ignore[arg-type]
        sync.seen = store.config_version()
        store.heartbeat("laggard", None, sync.seen)
        store.put_scenario("s", {"rules": []})  # a change made here: the version moves
        started = time.monotonic()
        assert sync.wait_for_replicas() == ["laggard"]  # it never caught up
        assert time.monotonic() - started >= 0.3
        store.heartbeat("laggard", None, store.config_version())
        assert sync.wait_for_replicas() == []  # now it serves the change
        # A replica long silent no longer counts.
        store.put_scenario("t", {"rules": []})
        sync.live_window = 0.0
        assert sync.wait_for_replicas() == []
        # Following: a change by another process makes step() reload once.
        before = runtime.reloads
        assert not sync.step()
        store.put_scenario("u", {"rules": []})
        assert sync.step() and runtime.reloads == before + 1
    finally:
        store.close()


def test_a_mock_outlives_a_database_restart(tmp_path: Path) -> None:
    """The database goes away under a running mock: requests that need it answer 503, the rest
    keep working, and once the database is back the mock uses it again (nothing restarted)."""
    from tests.postgres import Cluster

    cluster = Cluster()
    try:
        replica = _start(None, "--stateful", env={"MOCKLOOP_DATABASE_URL": cluster.url})
    except BaseException:
        cluster.remove()
        raise
    process = replica.process
    try:
        assert replica.pet_status() == 200
        cluster.stop()
        assert replica.pet_status() == 503  # stateful data lives in the database
        down = httpx.get(f"{replica.admin}/api/mock-data/scenarios")
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        assert "could not" in down.json()["detail"]
        assert httpx.get(f"{replica.admin}/health").status_code == 200
        cluster.start()
        wait_for(
            lambda: replica.pet_status() == 200,
            "the mock to use the database again",
            timeout=20,
            every=0.2,
        )
        created = httpx.post(f"{replica.admin}/api/mock-data/scenarios", json=BROKEN)
        assert created.status_code == 201
        httpx.post(f"{replica.admin}/api/mock-data/scenarios/broken/activate").raise_for_status()
        assert replica.pet_status() == 503
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        cluster.remove()
    assert process.returncode == 0, output
