"""The client against real mocks on loopback: logs with analysis, mock data changes, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockloop import (
    AsyncMockLoopClient,
    ConfigError,
    MockLoopClient,
    MockLoopUserError,
    ScenarioError,
    ServerError,
)
from mockloop.mock import MockConfig, MockServer
from mockloop.results import Result
from mockloop.settings import ClientSettings
from tests.conftest import PETSTORE

PET = "/v1/pets/1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    config = MockConfig.build(
        spec=str(PETSTORE),
        port=0,
        admin_port=0,
        auth=False,
        data_dir=tmp_path_factory.mktemp("client-mock"),
    )
    with MockServer(config) as running:
        yield running


@pytest.fixture
def client() -> Iterator[MockLoopClient]:
    with MockLoopClient(timeout=10) as sync_client:
        yield sync_client


def _reset(server: MockServer) -> None:
    runtime = server.runtime
    runtime.deactivate_scenario()
    runtime.clear_overrides()
    for scenario in runtime.list_scenarios():
        runtime.delete_scenario(scenario["name"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_query_mock_logs_returns_records_and_an_analysis(
    server: MockServer, client: MockLoopClient
) -> None:
    session = "logs-test"
    with httpx.Client(base_url=server.business_url) as http:
        for _ in range(3):
            assert http.get("/v1/pets", headers={"X-Session-ID": session}).status_code == 200
        assert http.get("/v1/nowhere", headers={"X-Session-ID": session}).status_code == 404
    logs = client.query_mock_logs(server.business_url, path_pattern="^/v1/(pets|nowhere)$")
    assert isinstance(logs, Result)
    assert logs["total"] == logs.total >= 4
    assert logs.admin_url == server.admin_url
    assert [r["path"] for r in logs.records[:4]] == ["/v1/nowhere", *["/v1/pets"] * 3]
    analysis = logs.analysis
    assert analysis is not None
    assert analysis["count"] == logs.total
    assert analysis["status_counts"]["404"] >= 1
    assert analysis["latency"]["p95"] is not None
    assert analysis["traffic"]["timeline"], "the traffic pattern has buckets"
    flows = {s["session_id"]: s for s in analysis["session_correlation"]["sessions"]}
    assert flows[session]["requests"] == 4
    assert flows[session]["flow"][0] == "listPets"
    assert flows[session]["errors"] == 1
    coverage = [r for r in analysis["recommendations"] if r["figure"] == "operation_coverage"]
    assert coverage and 0 < coverage[0]["value"] < 1
    for advice in analysis["recommendations"]:
        assert advice["figure"] and "value" in advice


def test_query_mock_logs_accepts_the_admin_url_and_filters(
    server: MockServer, client: MockLoopClient
) -> None:
    httpx.post(f"{server.business_url}/v1/pets", json={"name": "Rex", "species": "dog"})
    logs = client.query_mock_logs(server.admin_url or "", method="post", limit=1, analyze=False)
    assert logs.analysis is None
    assert logs.count == 1 and logs.records[0]["method"] == "POST"


def test_admin_requests_are_left_out_unless_asked(
    server: MockServer, client: MockLoopClient
) -> None:
    client.manage_mock_data(server.business_url, "list_scenarios")
    plain = client.query_mock_logs(server.business_url, limit=10_000, analyze=False)
    assert all(r["mode"] != "admin" for r in plain.records)
    admin = client.query_mock_logs(server.business_url, include_admin=True, limit=50)
    assert any(
        r["mode"] == "admin" and r["path"] == "/api/mock-data/scenarios" for r in admin.records
    )


def test_manage_mock_data_changes_the_next_response(
    server: MockServer, client: MockLoopClient
) -> None:
    _reset(server)
    url = server.business_url
    done = client.manage_mock_data(
        url, "update_response", endpoint_path="getPet", response_data={"id": 1, "name": "Fixed"}
    )
    assert done.override == {"body": {"id": 1, "name": "Fixed"}}
    assert httpx.get(f"{url}{PET}").json() == {"id": 1, "name": "Fixed"}

    client.manage_mock_data(
        url,
        "update_response",
        endpoint_path="GET /pets/{petId}",
        response_data={"status": 503, "headers": {"Retry-After": "3"}},
    )
    answer = httpx.get(f"{url}{PET}")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "3"

    client.manage_mock_data(url, "reset")
    assert httpx.get(f"{url}{PET}").status_code == 200


def test_scenarios_create_switch_list_delete(server: MockServer, client: MockLoopClient) -> None:
    _reset(server)
    url = server.business_url
    created = client.manage_mock_data(
        url,
        "create_scenario",
        scenario_name="pets_gone",
        scenario_config={"rules": [{"operation": "getPet", "status": 404}]},
    )
    assert created.scenario is not None and created.scenario["name"] == "pets_gone"
    assert created.active_scenario is None
    assert httpx.get(f"{url}{PET}").status_code == 200

    switched = client.manage_mock_data(url, "switch_scenario", scenario_name="pets_gone")
    assert switched.active_scenario == "pets_gone"
    assert httpx.get(f"{url}{PET}").status_code == 404

    listed = client.manage_mock_data(url, "list_scenarios")
    assert [s["name"] for s in listed.scenarios or []] == ["pets_gone"]

    client.manage_mock_data(url, "delete_scenario", scenario_name="pets_gone")
    assert httpx.get(f"{url}{PET}").status_code == 200
    assert client.manage_mock_data(url, "list_scenarios").scenarios == []


def test_bad_input_gives_clear_errors(server: MockServer, client: MockLoopClient) -> None:
    _reset(server)
    url = server.business_url
    with pytest.raises(ConfigError, match="unknown manage_mock_data operation 'explode'"):
        client.manage_mock_data(url, "explode")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="unknown scenario 'ghost'"):
        client.manage_mock_data(url, "switch_scenario", scenario_name="ghost")
    with pytest.raises(ScenarioError, match="error_rate"):
        client.manage_mock_data(
            url,
            "create_scenario",
            scenario_name="bad",
            scenario_config={"rules": [{"operation": "getPet", "error_rate": 7}]},
        )
    with pytest.raises(ScenarioError, match="matches no operation"):
        client.manage_mock_data(
            url,
            "create_scenario",
            scenario_name="bad",
            scenario_config={"rules": [{"operation": "noSuchOperation", "status": 500}]},
        )
    with pytest.raises(ConfigError, match="needs endpoint_path"):
        client.manage_mock_data(url, "update_response", response_data={})
    with pytest.raises(ScenarioError, match="matches no operation"):
        client.manage_mock_data(
            url, "update_response", endpoint_path="nothing", response_data={"a": 1}
        )
    with pytest.raises(ConfigError, match="limit"):
        client.query_mock_logs(url, limit=0)
    with pytest.raises(ConfigError, match="not an http"):
        client.query_mock_logs("ftp://example")


def test_a_url_nothing_answers_on_is_a_server_error(client: MockLoopClient) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ServerError, match="nothing answers on") as caught:
        client.query_mock_logs(url)
    assert not isinstance(caught.value, MockLoopUserError)


def test_a_non_mockloop_server_is_refused(client: MockLoopClient, tmp_path: Path) -> None:
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(ServerError, match="not as a MockLoop mock"):
            client.query_mock_logs(f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_async_client_and_sync_client_inside_a_running_loop(server: MockServer) -> None:
    async def main() -> tuple[int, int]:
        async with AsyncMockLoopClient() as async_client:
            logs = await async_client.query_mock_logs(server.business_url, analyze=False)
        # The blocking twin still works when called from code running in an event loop.
        with MockLoopClient() as sync_client:
            again = sync_client.query_mock_logs(server.business_url, analyze=False)
        return logs.total, again.total

    first, second = asyncio.run(main())
    assert second >= first >= 0


def test_settings_come_from_arguments_or_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MOCKLOOP_TIMEOUT", "12.5")
    monkeypatch.setenv("MOCKLOOP_ADMIN_TOKEN", "from-env")
    settings = ClientSettings.from_env()
    assert settings.timeout == 12.5 and settings.admin_token == "from-env"
    assert "from-env" not in repr(settings)
    explicit = MockLoopClient(home=str(tmp_path), timeout=3, admin_token="arg").settings
    assert (explicit.home, explicit.timeout, explicit.admin_token) == (tmp_path, 3, "arg")
    monkeypatch.setenv("MOCKLOOP_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="MOCKLOOP_TIMEOUT"):
        ClientSettings.from_env()


def test_admin_token_is_sent(tmp_path: Path) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, admin_token="s3cret", data_dir=tmp_path
    )
    with MockServer(config) as running:
        with MockLoopClient() as anonymous, pytest.raises(ConfigError, match="needs a token"):
            anonymous.manage_mock_data(running.business_url, "list_scenarios")
        with MockLoopClient(admin_token="s3cret") as allowed:
            listed = allowed.manage_mock_data(running.business_url, "list_scenarios")
    assert listed.scenarios == []


def test_result_item_access() -> None:
    from mockloop.operations.mock_data import MockDataResult

    result = MockDataResult(operation="reset", server_url="u", admin_url="a", message="m")
    assert result["message"] == "m" and result.get("nope", 1) == 1
    assert "operation" in result and "nope" not in result
    assert result.model_dump(mode="json")["operation"] == "reset"
    with pytest.raises(KeyError, match="no field 'nope'"):
        result["nope"]


def test_the_clients_own_health_probes_are_not_logged_but_user_health_calls_are(
    server: MockServer, client: MockLoopClient
) -> None:
    for _ in range(3):
        client.query_mock_logs(server.business_url, analyze=False)
    probes = client.query_mock_logs(server.business_url, path_pattern="^/health$", analyze=False)
    httpx.get(f"{server.business_url}/health")
    after = client.query_mock_logs(server.business_url, path_pattern="^/health$", analyze=False)
    assert after.total == probes.total + 1
