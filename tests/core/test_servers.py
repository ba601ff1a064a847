"""Detached mock servers: start, stop, list, stale entries, ports, discovery, the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockloop import ConfigError, ServerError, SpecError
from mockloop.cli import main as cli_main
from mockloop.generate import generate_project
from mockloop.mock import MockConfig, MockServer
from mockloop.servers import (
    discover_servers,
    list_servers,
    start_server,
    stop_server,
)
from mockloop.servers.processes import is_alive
from mockloop.settings import mockloop_home
from mockloop.store.registry import Registry
from tests.conftest import FIXTURES, PETSTORE
from tests.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _free_run(length: int) -> int:
    """A port p with p .. p+length-1 all free right now."""
    for _ in range(200):
        first = _free_port()
        if first + length > 65535:
            continue
        sockets = []
        try:
            for port in range(first, first + length):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no run of free ports")


def _gone(pid: int, timeout: float = 10) -> bool:
    """True once `pid` no longer exists at all (not even as a zombie); AssertionError when it
    still does after `timeout` seconds."""

    def absent() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    return wait_for(absent, f"process {pid} to be gone", timeout=timeout)


@pytest.fixture(autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """Whatever a test registered is killed at the end, even when the test failed."""
    yield
    for row in Registry().servers():
        if is_alive(row["pid"], row["process_start"]):
            os.killpg(row["pid"], signal.SIGKILL)
            with contextlib.suppress(AssertionError):  # clean-up: the test itself has ended
                _gone(row["pid"])


def _listening(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_start_list_stop_lifecycle() -> None:
    port, admin_port = _free_port(), _free_port()
    server = start_server(spec=str(PETSTORE), business_port=port, admin_port=admin_port)
    assert server.status == "running" and server.notices == []
    assert server.business_url == f"http://127.0.0.1:{port}"
    assert server.admin_url == f"http://127.0.0.1:{admin_port}"
    assert server.docs_url == f"http://127.0.0.1:{port}/docs"
    assert server.title == "MockLoop Pet Store"
    assert server.pid != os.getpid() and os.getpgid(server.pid) == server.pid  # own group
    assert httpx.get(f"{server.business_url}/v1/status").status_code == 200
    assert httpx.get(f"{server.admin_url}/health").json()["business_url"] == server.business_url
    assert [s.id for s in list_servers()] == [server.id]

    stopped = stop_server(server.business_url)
    assert stopped.id == server.id and stopped.status == "stopped" and stopped.stopped_at
    assert _gone(server.pid)
    assert list_servers() == []
    assert [s.status for s in list_servers(include_stopped=True)] == ["stopped"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.business_url}/health")
    # Stopping again is harmless: the entry is already history.
    assert stop_server(server.id).status == "stopped"


def test_stop_targets_and_unknown_target() -> None:
    first = start_server(spec=str(PETSTORE), business_port=_free_port(), admin_port=_free_port())
    second = start_server(spec=str(PETSTORE), business_port=_free_port(), admin_port=_free_port())
    with pytest.raises(ConfigError, match=first.id) as caught:
        stop_server("no-such-server")
    assert second.id in str(caught.value)
    assert stop_server(str(first.admin_port)).id == first.id
    assert stop_server(second.pid).id == second.id
    assert _gone(first.pid) and _gone(second.pid)


def test_dead_process_is_reported_stale() -> None:
    server = start_server(spec=str(PETSTORE), business_port=_free_port(), admin_port=_free_port())
    os.killpg(server.pid, signal.SIGKILL)
    assert _gone(server.pid)
    [listed] = list_servers()
    assert listed.id == server.id and listed.status == "stale"
    assert [s.id for s in discover_servers(ports=[], include_generated=False).stale] == [server.id]
    assert stop_server(server.id).status == "stopped"
    assert list_servers() == []


def test_busy_explicit_port_is_an_error_and_starts_nothing() -> None:
    port = _free_port()
    with _listening(port):
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is in use"):
            start_server(spec=str(PETSTORE), business_port=port, admin_port=_free_port())
        with pytest.raises(ServerError, match=f"admin port {port}"):
            start_server(spec=str(PETSTORE), business_port=_free_port(), admin_port=port)
    assert list_servers(include_stopped=True) == []
    assert not (mockloop_home() / "servers").exists()  # no process was ever spawned


def test_busy_default_port_moves_with_a_notice() -> None:
    first = _free_run(4)
    with _listening(first):
        server = start_server(spec=str(PETSTORE), business_port=first, port_explicit=False)
    assert server.business_port == first + 1 and server.admin_port == first + 2
    assert server.notices == [f"port {first} is busy; serving on {first + 1}"]
    assert httpx.get(f"{server.business_url}/health").json()["service"] == "mockloop"
    stop_server(server.id)


def test_a_registered_server_holding_the_port_is_named() -> None:
    server = start_server(spec=str(PETSTORE), business_port=_free_port(), admin_port=_free_port())
    with pytest.raises(ServerError, match=f"mockloop stop {server.id}"):
        start_server(spec=str(PETSTORE), business_port=server.business_port or 0)
    assert [s.id for s in list_servers()] == [server.id]


def test_failed_start_leaves_nothing_running() -> None:
    port, admin_port = _free_port(), _free_port()
    with pytest.raises(ServerError, match="malformed YAML") as caught:
        start_server(
            spec=str(FIXTURES / "specs" / "broken" / "malformed.yaml"),
            business_port=port,
            admin_port=admin_port,
        )
    assert str(caught.value).startswith("the mock did not start: ")
    assert "nothing is left running" in str(caught.value)
    assert list_servers(include_stopped=True) == []
    with socket.socket() as sock:  # the ports are free again
        sock.bind(("127.0.0.1", port))
    with pytest.raises(SpecError, match="file not found"):
        start_server(spec="missing.yaml", business_port=_free_port())
    with pytest.raises(ConfigError, match="exactly one"):
        start_server(business_port=_free_port())


def test_project_server_and_discovery() -> None:
    idle = generate_project(PETSTORE, output_dir_name="idle")
    running = generate_project(PETSTORE, output_dir_name="running")
    registered = start_server(
        project_path=running.path, business_port=_free_port(), admin_port=_free_port()
    )
    assert registered.project_path == str(running.path)
    assert registered.spec == str(running.spec_file)
    single = MockServer(MockConfig.build(spec=str(PETSTORE), port=0)).start()
    try:
        assert single.admin_url is None
        single_port = int(single.business_url.rsplit(":", 1)[1])
        found = discover_servers(ports=[registered.business_port or 0, single_port])
    finally:
        single.stop()
    by_url = {s.business_url: s for s in found.servers}
    dual = by_url[registered.business_url]
    assert (dual.kind, dual.healthy, dual.registered, dual.server_id, dual.pid) == (
        "dual-port",
        True,
        True,
        registered.id,
        registered.pid,
    )
    assert dual.admin_url == registered.admin_url and dual.title == "MockLoop Pet Store"
    lone = by_url[single.business_url]
    assert (lone.kind, lone.healthy, lone.registered, lone.admin_url) == (
        "single-port",
        True,
        False,
        None,
    )
    assert len(found.servers) == 2
    projects = {p.name: p for p in found.generated}
    assert projects["idle"].path == str(idle.path) and projects["idle"].running is False
    assert projects["idle"].server_id is None
    assert projects["running"].running is True
    assert projects["running"].server_id == registered.id

    quick = discover_servers(check_health=False)
    assert [(s.server_id, s.healthy) for s in quick.servers] == [(registered.id, None)]
    assert quick.servers[0].health == {"process_alive": True, "port_listens": True}
    stop_server(registered.id)
    after = discover_servers(ports=[registered.business_port or 0])
    assert after.servers == []
    assert all(not p.running for p in after.generated)


async def test_discovery_works_inside_a_running_event_loop() -> None:
    with MockServer(MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0)) as server:
        ports = [int(server.business_url.rsplit(":", 1)[1])]
        found = discover_servers(ports=ports, include_generated=False)
    [entry] = found.servers
    assert entry.kind == "dual-port" and entry.admin_url == server.admin_url
    assert entry.registered is False


def test_server_outlives_the_process_that_started_it() -> None:
    port, admin_port = _free_port(), _free_port()
    script = textwrap.dedent(
        f"""
        import json
        from mockloop.servers import start_server
        server = start_server(spec={str(PETSTORE)!r}, business_port={port},
                              admin_port={admin_port})
        print(json.dumps(server.model_dump(mode="json")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert httpx.get(f"http://127.0.0.1:{port}/health").json()["service"] == "mockloop"
    [listed] = list_servers()
    assert (listed.id, listed.pid, listed.status) == (info["id"], info["pid"], "running")
    stop_server(info["id"])
    assert _gone(info["pid"])


def test_cli_start_list_discover_stop(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    assert cli_main(["start", str(PETSTORE), "--port", str(port), "--admin-port", "0"]) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}" in out and "mockloop stop" in out
    [server] = list_servers()
    assert cli_main(["list"]) == 0
    assert server.id in capsys.readouterr().out
    assert cli_main(["discover", "--ports", str(port)]) == 0
    assert "dual-port, healthy, registered" in capsys.readouterr().out
    assert cli_main(["stop", "--all"]) == 0
    assert f"Stopped {server.id}" in capsys.readouterr().out
    assert _gone(server.pid)
    assert cli_main(["stop", "nothing"]) == 2
    assert "no server started by MockLoop matches" in capsys.readouterr().err
    assert cli_main(["generate", str(PETSTORE), "--name", "from-cli", "--no-auth"]) == 0
    assert "Generated from-cli" in capsys.readouterr().out


def test_start_mock_server_watches_and_localizes(tmp_path: Path) -> None:
    """The operation's watch and locale reach the detached `mockloop serve`."""
    from mockloop import MockLoopClient

    spec = tmp_path / "api.yaml"
    spec.write_text(PETSTORE.read_text())
    client = MockLoopClient()
    started = client.start_mock_server(
        str(spec), business_port=_free_port(), admin_port=_free_port(), watch=True, locale="de-DE"
    )
    try:
        health = httpx.get(f"{started.admin_url}/health", timeout=10).json()
        assert health["watch"]["files"] == [str(spec.resolve())]
        spec.write_text(PETSTORE.read_text().replace("MockLoop Pet Store", "Watched Store"))
        wait_for(
            lambda: (
                httpx.get(f"{started.business_url}/health").json()["api"]["title"]
                == "Watched Store"
            ),
            "the edit",
        )
    finally:
        client.stop_mock_server(started.id)
    with pytest.raises(ConfigError, match="unknown locale 'xx-YY'"):
        client.start_mock_server(str(spec), locale="xx-YY")
    with pytest.raises(ConfigError, match="watch needs a description in a local file"):
        client.start_mock_server("http://127.0.0.1:9/openapi.yaml", watch=True)
    with pytest.raises(ConfigError, match=r"mockloop\.yaml"):
        client.start_mock_server(project_path=str(tmp_path), watch=True)
