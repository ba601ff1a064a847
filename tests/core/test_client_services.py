"""The client's services are built once: one HTTP client per event loop, an admin target found
once per server (found again when it moves), closed by `aclose()`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockloop import AsyncMockLoopClient, ServerError
from mockloop._sync_runner import LoopThread
from mockloop.mock import MockConfig, MockServer
from mockloop.operations.services import http as shared_http
from tests.conftest import PETSTORE


class _Seen:
    """The AsyncClients the client opened and every request they sent."""

    def __init__(self) -> None:
        self.clients: list[httpx.AsyncClient] = []
        self.requests: list[tuple[str, str]] = []

    def health_probes(self) -> list[str]:
        return [url for method, url in self.requests if url.endswith("/health")]


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> _Seen:
    record = _Seen()

    class CountingClient(httpx.AsyncClient):
        def __init__(self, **options: Any) -> None:
            async def note(request: httpx.Request) -> None:
                record.requests.append((request.method, str(request.url)))

            super().__init__(**options, event_hooks={"request": [note]})
            record.clients.append(self)

    monkeypatch.setattr(shared_http, "AsyncClient", CountingClient)
    return record


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int = 0, admin_port: int = 0) -> MockServer:
    config = MockConfig.build(
        spec=str(PETSTORE), port=port, admin_port=admin_port, auth=False, storage=False
    )
    return MockServer(config)


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with _serve() as running:
        yield running


SCENARIO = {"name": "slow_pets", "rules": [{"path": "/pets", "delay_ms": 5}]}


async def test_an_admin_sequence_opens_one_http_client_and_probes_each_server_once(
    mock: MockServer, seen: _Seen
) -> None:
    admin_url = mock.admin_url
    assert admin_url is not None
    async with AsyncMockLoopClient(timeout=10) as client:
        await client.query_mock_logs(mock.business_url, limit=5)
        await client.manage_mock_data(mock.business_url, operation="list_scenarios")
        await client.deploy_scenario(mock.business_url, SCENARIO)
        switched = await client.switch_scenario(mock.business_url, "slow_pets", verify_switch=False)
        await client.query_mock_logs(admin_url, limit=5)
        await client.list_active_scenarios(server_urls=[mock.business_url, admin_url])
        assert switched.active_scenario == "slow_pets"
        assert len(seen.clients) == 1 and not seen.clients[0].is_closed
    # Two server URLs (the business and the admin URL of one mock): one /health probe each.
    assert sorted(seen.health_probes()) == sorted(
        [f"{mock.business_url}/health", f"{admin_url}/health"]
    )
    assert len(seen.requests) > 10  # every admin call went through that one client
    assert len(seen.clients) == 1 and seen.clients[0].is_closed


async def test_each_event_loop_gets_its_own_http_client_and_aclose_closes_all(
    mock: MockServer, seen: _Seen
) -> None:
    client = AsyncMockLoopClient(timeout=10)
    other_loop = LoopThread()
    try:
        await client.query_mock_logs(mock.business_url, limit=1)
        other_loop.run(client.query_mock_logs(mock.business_url, limit=1))
        await client.query_mock_logs(mock.business_url, limit=1)
        assert len(seen.clients) == 2  # this loop's and the loop thread's
        assert seen.health_probes() == [f"{mock.business_url}/health"]
        store = client.services.stores.contexts
        await client.create_test_session_context("closing")
        assert store.is_open
    finally:
        await client.aclose()
        other_loop.close()
    assert all(http.is_closed for http in seen.clients)
    assert not store.is_open  # the context store it opened is closed too
    # A closed client opens again on its next call.
    await client.query_mock_logs(mock.business_url, limit=1)
    assert len(seen.clients) == 3
    await client.aclose()
    assert seen.clients[-1].is_closed


async def test_a_mock_restarted_on_another_admin_port_is_found_again(seen: _Seen) -> None:
    port, first_admin, second_admin = _free_port(), _free_port(), _free_port()
    async with AsyncMockLoopClient(timeout=10) as client:
        with _serve(port, first_admin) as first:
            before = await client.query_mock_logs(first.business_url, limit=1)
        with _serve(port, second_admin) as second:
            after = await client.query_mock_logs(second.business_url, limit=1)
        assert before.admin_url.endswith(f":{first_admin}")
        assert after.admin_url.endswith(f":{second_admin}")
        # The cached target stopped answering: its business URL was probed a second time.
        assert seen.health_probes() == [f"{second.business_url}/health"] * 2
        with pytest.raises(ServerError, match="nothing answers on"):
            await client.query_mock_logs(second.business_url, limit=1)


def test_the_admin_token_goes_only_to_the_host_that_was_named() -> None:
    """A /health answer naming an admin port on another host never collects the token."""
    from mockloop.operations.services.admin import AdminTarget

    def target(admin: str, probed: str | None) -> AdminTarget:
        return AdminTarget(admin, None, {}, probed)

    assert target("http://10.0.0.5:8001", "http://10.0.0.5:8000").gets_token
    assert target("http://127.0.0.1:8001", "http://localhost:8000").gets_token
    assert target("http://127.0.0.1:8001", None).gets_token  # from the registry
    assert not target("http://10.0.0.5:8001", "http://127.0.0.1:8000").gets_token
    assert not target("http://attacker.example:80", "http://docs.example:8000").gets_token
    assert not target("http://127.0.0.1:8001", "http://docs.example:8000").gets_token
