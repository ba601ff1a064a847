"""`mockloop serve --workers N`: N business processes on one port behave as one mock.

Real processes: the supervisor is `mockloop serve` and its workers are the processes it starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop.errors import ConfigError
from mockloop.mock.workers import available_cores, resolve_workers
from tests.conftest import PETSTORE
from tests.core.test_cli import _free_port
from tests.waiting import wait_for, wait_for_health

KEY = {"X-API-Key": "k"}
BROKEN = {
    "name": "broken",
    "rules": [{"operation": "getPet", "status": 503, "body": {"error": "down"}}],
}

pytestmark = pytest.mark.skipif(
    not hasattr(__import__("socket"), "SO_REUSEPORT"), reason="the platform has no SO_REUSEPORT"
)


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int, admin_port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.admin = f"http://127.0.0.1:{admin_port}"

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.admin}/health", timeout=10).json()

    def fresh(self, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a new connection (so the kernel picks a worker each time)."""
        with httpx.Client(timeout=10) as client:
            return client.request(kwargs.pop("method", "GET"), f"{self.url}{path}", **kwargs)

    def workers_seen(self, rounds: int = 40) -> set[int]:
        return {self.fresh("/health").json()["worker"] for _ in range(rounds)}


def _serve(data_dir: Path, *extra: str) -> Served:
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
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    served = Served(process, port, admin_port)
    try:
        wait_for_health(served.admin, process, timeout=90)
    except BaseException:
        process.kill()
        process.communicate(timeout=30)
        raise
    return served


def _stop(served: Served) -> str:
    served.process.send_signal(signal.SIGTERM)
    output, _ = served.process.communicate(timeout=60)
    assert served.process.returncode == 0, output
    return output


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Served]:
    served = _serve(tmp_path / "data", "--workers", "2", "--stateful")
    try:
        yield served
    finally:
        if served.process.poll() is None:
            _stop(served)


def _pids(served: Served) -> list[int]:
    return [w["pid"] for w in served.health()["workers"]]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_workers_share_the_port_the_admin_and_a_scenario_switch(two_workers: Served) -> None:
    served = two_workers
    health = served.health()
    assert [w["index"] for w in health["workers"]] == [0, 1]
    assert all(w["alive"] and w["ready"] for w in health["workers"])
    # Connections land on both workers, and each names the one admin API.
    assert served.workers_seen() == {0, 1}
    assert served.fresh("/health").json()["admin_url"] == served.admin
    assert served.fresh("/pets/1", headers=KEY).status_code == 200

    created = httpx.post(f"{served.admin}/api/mock-data/scenarios", json=BROKEN)
    assert created.status_code == 201, created.text
    assert httpx.post(f"{served.admin}/api/mock-data/scenarios/broken/activate").status_code == 200
    # No waiting: the switch returned once every worker served it.
    answers = [served.fresh("/pets/1", headers=KEY) for _ in range(20)]
    assert {r.status_code for r in answers} == {503}
    assert httpx.post(f"{served.admin}/api/mock-data/scenarios/deactivate").status_code == 200
    assert {served.fresh("/pets/1", headers=KEY).status_code for _ in range(20)} == {200}


def test_one_request_log_and_shared_state_across_workers(two_workers: Served) -> None:
    served = two_workers
    created = served.fresh("/pets", method="POST", json={"name": "Rex", "tag": "dog"}, headers=KEY)
    assert created.status_code == 201, created.text
    pet_id = created.json()["id"]
    # Every worker sees the pet another one created.
    for _ in range(20):
        fetched = served.fresh(f"/pets/{pet_id}", headers=KEY)
        assert fetched.status_code == 200 and fetched.json()["name"] == "Rex"
    assert served.workers_seen() == {0, 1}

    def logged() -> int | None:
        search = httpx.get(
            f"{served.admin}/api/logs/search", params={"path": f"^/pets/{pet_id}$", "limit": 1}
        ).json()
        return search["total"] if search["total"] == 20 else None

    assert wait_for(logged, "the 20 reads in the one request log") == 20


def test_a_dead_worker_is_started_again_and_sigterm_stops_every_worker(
    two_workers: Served,
) -> None:
    served = two_workers
    first, second = _pids(served)
    os.kill(first, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        worker = served.health()["workers"][0]
        return worker if worker["pid"] != first and worker["alive"] and worker["ready"] else None

    worker = wait_for(restarted, "worker 0 to be started again", timeout=60)
    assert worker["restarts"] == 1
    assert served.workers_seen() == {0, 1}
    assert served.fresh("/pets/1", headers=KEY).status_code == 200

    pids = _pids(served)
    output = _stop(served)
    assert "Stopped; the request log is flushed." in output
    assert "exited with status" in output  # the supervisor said what happened to worker 0
    assert not any(_alive(pid) for pid in [*pids, second])


def test_workers_count_is_checked_before_anything_starts() -> None:
    assert resolve_workers("3") == 3
    assert resolve_workers("auto") == available_cores() >= 1
    with pytest.raises(ConfigError, match="positive integer or 'auto'"):
        resolve_workers("many")
    with pytest.raises(ConfigError, match="out of range"):
        resolve_workers("0")
    result = subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "serve", str(PETSTORE), "--workers", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers 'x' is not a number of workers" in result.stderr


def test_a_second_supervisor_cannot_join_the_port(two_workers: Served) -> None:
    port = two_workers.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockloop.cli",
            "serve",
            str(PETSTORE),
            "--port",
            port,
            "--no-admin",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot listen on port 127.0.0.1:{port}: it is in use" in result.stderr
    assert two_workers.workers_seen() == {0, 1}


def test_webhooks_registered_on_the_admin_api_fire_from_every_worker(
    two_workers: Served,
) -> None:
    from tests.core.test_webhooks import Receiver

    receiver, later = Receiver(), Receiver()
    try:
        created = httpx.post(
            f"{two_workers.admin}/api/webhooks", json={"url": receiver.url, "events": ["getPet"]}
        )
        assert created.status_code == 201, created.text
        # No waiting: the registration returned once every worker delivers to it.
        for _ in range(20):
            assert two_workers.fresh("/pets/1", headers=KEY).status_code == 200
        assert wait_for(lambda: len(receiver.events()) == 20 or None, "20 deliveries")
        assert set(receiver.events()) == {"getPet"}
        hook_id = created.json()["id"]
        assert httpx.delete(f"{two_workers.admin}/api/webhooks/{hook_id}").status_code == 200
        httpx.post(
            f"{two_workers.admin}/api/webhooks", json={"url": later.url, "events": ["getPet"]}
        ).raise_for_status()
        for _ in range(10):
            two_workers.fresh("/pets/1", headers=KEY)
        # Once the new webhook has its 10, the removed one would have had its own by now.
        assert wait_for(lambda: len(later.events()) == 10 or None, "10 deliveries")
        assert len(receiver.events()) == 20
    finally:
        receiver.close()
        later.close()


def test_proxy_settings_held_in_one_process_are_refused_under_workers(
    two_workers: Served,
) -> None:
    changed = httpx.put(
        f"{two_workers.admin}/api/proxy",
        json={"mode": "proxy", "target_url": "http://127.0.0.1:9"},
    )
    assert changed.status_code == 409
    assert "serve with --workers 1" in changed.json()["detail"]
    recording = httpx.post(
        f"{two_workers.admin}/api/proxy/record/start", json={"scenario_name": "r"}
    )
    assert recording.status_code == 409
    assert httpx.get(f"{two_workers.admin}/api/proxy").json()["enabled"] is False
