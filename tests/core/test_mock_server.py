"""The mock server end to end: real servers on 127.0.0.1, real HTTP."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import httpx
import jsonschema
import pytest

from mockloop.errors import ServerError
from mockloop.mock import MockConfig, MockServer
from mockloop.spec import load_spec
from mockloop.spec.validation import SchemaValidator
from tests.conftest import FIXTURES, PETSTORE

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def petstore(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("petstore-data")
    config = MockConfig(spec=str(PETSTORE), port=0, admin_port=0, data_dir=data_dir)
    with MockServer(config) as server:
        yield server


@pytest.fixture()
def api(petstore: MockServer):
    with httpx.Client(base_url=petstore.business_url, timeout=10) as client:
        yield client


@pytest.fixture()
def admin(petstore: MockServer):
    with httpx.Client(base_url=petstore.admin_url, timeout=10) as client:
        yield client


def _schema_of(operation_id: str, status: str = "200"):
    spec = load_spec(str(PETSTORE))
    op = spec.operation(operation_id)
    media = op.responses[status].content["application/json"]
    return spec, media.schema


def test_missing_credentials_is_401_problem(api: httpx.Client) -> None:
    response = api.get("/pets")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 401
    assert "listPets" in problem["detail"]
    assert "Bearer" in response.headers["www-authenticate"]
    assert api.get("/pets", headers={"X-API-Key": "k"}).status_code == 200


def test_public_operation_needs_no_credentials(api: httpx.Client) -> None:
    assert api.get("/status").status_code == 200


def test_list_validates_and_has_documented_header(api: httpx.Client) -> None:
    response = api.get("/pets", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-rate-limit-remaining"].lstrip("-").isdigit()
    spec, schema = _schema_of("listPets")
    assert SchemaValidator(spec.document).errors(schema, response.json()) == []


def test_base_path_serves_the_same(api: httpx.Client) -> None:
    assert api.get("/v1/pets/3", headers=AUTH).json() == api.get("/pets/3", headers=AUTH).json()


def test_generated_data_is_stable_per_path_parameter(api: httpx.Client) -> None:
    first_id, second_id = (
        "6f1c2d1e-0000-4000-8000-000000000001",
        "6f1c2d1e-0000-4000-8000-000000000002",
    )
    first = api.get(f"/owners/{first_id}", headers=AUTH)
    assert first.status_code == 200
    assert api.get(f"/owners/{first_id}", headers=AUTH).json() == first.json()
    assert api.get(f"/owners/{second_id}", headers=AUTH).json() != first.json()


def test_valid_examples_are_served_before_generated_data(api: httpx.Client) -> None:
    assert api.get("/pets/7", headers=AUTH).json()["name"] == "Fluffy"


def test_write_only_never_appears_in_a_response(api: httpx.Client) -> None:
    pets = api.get("/pets", headers=AUTH).json()
    assert pets and all("secret_note" not in pet for pet in pets)


def test_prefer_header(api: httpx.Client) -> None:
    missing = api.get("/pets/7", headers={**AUTH, "Prefer": "code=404"})
    assert missing.status_code == 404
    rex = api.get("/pets/7", headers={**AUTH, "Prefer": "example=rex"})
    assert rex.status_code == 200
    assert rex.json()["name"].lower() == "rex"
    undocumented = api.get("/pets/7", headers={**AUTH, "Prefer": "code=418"})
    assert undocumented.status_code == 422
    assert "418" in undocumented.json()["detail"]
    dynamic = {
        api.get("/pets/7", headers={**AUTH, "Prefer": "dynamic=true"}).text for _ in range(3)
    }
    assert len(dynamic) > 1


def test_create_returns_201_and_validation_errors(api: httpx.Client) -> None:
    created = api.post("/pets", json={"name": "Kitty", "status": "available"}, headers=AUTH)
    assert created.status_code == 201
    invalid = api.post("/pets", json={"name": 5}, headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert invalid.json()["errors"]
    malformed = api.post(
        "/pets", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert "JSON" in malformed.json()["detail"]
    wrong_type = api.post(
        "/pets", content=b"name=x", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert "application/json" in wrong_type.json()["detail"]
    bad_param = api.get("/pets", params={"limit": "lots"}, headers=AUTH)
    assert bad_param.status_code == 400
    assert "limit" in bad_param.json()["detail"]


def test_delete_is_204_without_body(api: httpx.Client) -> None:
    response = api.delete("/pets/3", headers=AUTH)
    assert response.status_code == 204
    assert response.content == b""


def test_unknown_path_and_wrong_method(api: httpx.Client) -> None:
    unknown = api.get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    wrong = api.patch("/pets", headers=AUTH)
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_health_and_docs(api: httpx.Client) -> None:
    health = api.get("/health").json()
    assert health["status"] == "ok"
    assert health["service"] == "mockloop"
    docs = api.get("/docs")
    assert docs.status_code == 200
    assert "listPets" in docs.text
    assert api.get("/openapi.json").json()["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/../../etc/passwd",
        "//",
        "/pets/%ff%fe",
        "/" + "a" * 8000,
        "/pets/1/../2",
        "/pets/%2e%2e/%2e%2e",
        "/?" + "x=" * 2000,
    ],
)
def test_odd_paths_get_4xx_problem(api: httpx.Client, path: str) -> None:
    response = api.get(path, headers=AUTH)
    assert 400 <= response.status_code < 500 or response.status_code == 200
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


def test_huge_body_is_413_and_server_lives_on(petstore: MockServer, api: httpx.Client) -> None:
    limit = petstore.config.max_body_bytes
    response = api.post(
        "/pets", content=b"x" * (limit + 10), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert api.get("/status").status_code == 200


def test_huge_header_is_refused_and_server_lives_on(api: httpx.Client) -> None:
    try:
        response = api.get("/status", headers={"X-Huge": "h" * 200_000})
        assert response.status_code in (200, 400, 431)
    except httpx.HTTPError:
        pass  # the HTTP parser may close the connection on an oversized header block
    assert api.get("/status").status_code == 200


def test_raw_garbage_on_the_socket(petstore: MockServer, api: httpx.Client) -> None:
    host, port = petstore.business_url.removeprefix("http://").split(":")
    for garbage in (
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET /pets HTTP/1.1\r\nHost\r\n\r\n",
        b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    ):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                sock.recv(65536)
    assert api.get("/status").status_code == 200


def test_scenario_switch_takes_effect_on_next_request(
    api: httpx.Client, admin: httpx.Client
) -> None:
    scenario = {
        "name": "outage",
        "rules": [
            {"operation": "getPet", "status": 503, "headers": {"Retry-After": "5"}},
            {"operation": "listPets", "body": [{"id": 1, "name": "only"}]},
        ],
    }
    created = admin.post("/api/mock-data/scenarios", json=scenario)
    assert created.status_code == 201, created.text
    assert admin.post("/api/mock-data/scenarios", json=scenario).status_code == 409
    assert api.get("/pets/7", headers=AUTH).status_code == 200
    assert admin.post("/api/mock-data/scenarios/outage/activate").status_code == 200
    down = api.get("/pets/7", headers=AUTH)
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert api.get("/pets", headers=AUTH).json() == [{"id": 1, "name": "only"}]
    assert admin.get("/api/mock-data/scenarios/active").json()["active"] == "outage"
    updated = {**scenario, "rules": [{"operation": "getPet", "status": 404}]}
    assert admin.put("/api/mock-data/scenarios/outage", json=updated).status_code == 200
    assert api.get("/pets/7", headers=AUTH).status_code == 404
    assert admin.post("/api/mock-data/scenarios/deactivate").status_code == 200
    assert api.get("/pets/7", headers=AUTH).status_code == 200
    assert admin.delete("/api/mock-data/scenarios/outage").status_code == 200
    assert admin.get("/api/mock-data/scenarios/outage").status_code == 404


def test_a_rule_naming_an_unknown_example_answers_422(
    api: httpx.Client, admin: httpx.Client
) -> None:
    scenario = {
        "name": "examples",
        "rules": [
            {"operation": "getPet", "example": "rex"},
            {"operation": "listPets", "status": 200, "example": "nosuch"},
        ],
    }
    assert admin.post("/api/mock-data/scenarios", json=scenario).status_code == 201
    assert admin.post("/api/mock-data/scenarios/examples/activate").status_code == 200
    try:
        assert api.get("/pets/7", headers=AUTH).json()["name"] == "Rex"
        unknown = api.get("/pets", headers=AUTH)
        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == "application/problem+json"
        assert "no example named 'nosuch'" in unknown.json()["detail"]
    finally:
        admin.post("/api/mock-data/scenarios/deactivate")
        admin.delete("/api/mock-data/scenarios/examples")


def test_invalid_scenarios_are_refused_with_the_field(admin: httpx.Client) -> None:
    bad = admin.post(
        "/api/mock-data/scenarios",
        json={"name": "bad", "rules": [{"operation": "getPet", "status": 9999}]},
    )
    assert bad.status_code == 400
    assert "rules.0.status" in bad.json()["detail"]
    nowhere = admin.post(
        "/api/mock-data/scenarios", json={"name": "bad", "rules": [{"operation": "nope"}]}
    )
    assert nowhere.status_code == 400
    assert "matches no operation" in nowhere.json()["detail"]
    unknown = admin.post("/api/mock-data/scenarios/ghost/activate")
    assert unknown.status_code == 404
    assert "ghost" in unknown.json()["detail"]


def test_scenario_delay_error_rate_and_sequence(api: httpx.Client, admin: httpx.Client) -> None:
    scenario = {
        "name": "mixed",
        "rules": [
            {"operation": "listPets", "sequence": [{"status": 200}, {"status": 429}]},
            {"operation": "getPet", "error_rate": 1.0, "error_status": 502},
            {"operation": "getStatus", "delay_ms": 120},
        ],
    }
    assert admin.put("/api/mock-data/scenarios/mixed", json=scenario).status_code == 200
    admin.post("/api/mock-data/scenarios/mixed/activate").raise_for_status()
    try:
        assert [api.get("/pets", headers=AUTH).status_code for _ in range(4)] == [
            200,
            429,
            200,
            429,
        ]
        assert api.get("/pets/1", headers=AUTH).status_code == 502
        slow = api.get("/status")
        assert slow.elapsed.total_seconds() >= 0.11
    finally:
        admin.post("/api/mock-data/scenarios/deactivate")


def test_response_override(api: httpx.Client, admin: httpx.Client) -> None:
    put = admin.put(
        "/api/mock-data/responses/getPet", json={"status": 200, "body": {"id": 7, "name": "Fixed"}}
    )
    assert put.status_code == 200, put.text
    try:
        assert api.get("/pets/99", headers=AUTH).json() == {"id": 7, "name": "Fixed"}
        assert "getPet" in admin.get("/api/mock-data/responses").json()["overrides"]
    finally:
        assert admin.delete("/api/mock-data/responses/getPet").status_code == 200
    assert api.get("/pets/99", headers=AUTH).json() != {"id": 7, "name": "Fixed"}
    assert (
        admin.put("/api/mock-data/responses/GET /nowhere", json={"status": 500}).status_code == 400
    )


def test_request_log_search_redacts_and_analyzes(api: httpx.Client, admin: httpx.Client) -> None:
    api.get(
        "/pets/4242",
        headers={"Authorization": "Bearer super-secret-token", "X-Session-ID": "sess-42"},
    )
    api.get("/nowhere-logged", headers={"X-Session-ID": "sess-42"})
    found = admin.get("/api/logs/search", params={"session_id": "sess-42"}).json()
    assert found["total"] == 2
    records = found["records"]
    assert {r["path"] for r in records} == {"/pets/4242", "/nowhere-logged"}
    pet = next(r for r in records if r["path"] == "/pets/4242")
    assert pet["operation_id"] == "getPet"
    assert pet["status"] == 200
    assert pet["request_headers"]["authorization"] == "[REDACTED]"
    assert "super-secret-token" not in str(found)
    by_status = admin.get("/api/logs/search", params={"status": "4xx", "session_id": "sess-42"})
    assert [r["path"] for r in by_status.json()["records"]] == ["/nowhere-logged"]
    by_regex = admin.get("/api/logs/search", params={"path": r"^/pets/\d+$", "limit": 500})
    assert all(r["path"].startswith("/pets/") for r in by_regex.json()["records"])
    analysis = admin.get("/api/logs/analyze", params={"session_id": "sess-42"}).json()
    assert analysis["count"] == 2
    assert admin.get("/api/logs/search", params={"status": "teapot"}).status_code == 400
    assert admin.get("/api/logs/search", params={"path": "("}).status_code == 400


def test_export(admin: httpx.Client) -> None:
    exported = admin.get("/api/export", params={"include_logs": "true"}).json()
    assert exported["api"]["title"]
    assert "scenarios" in exported
    assert isinstance(exported["logs"], list)
    assert "admin_token" not in exported["config"]


def test_scenarios_survive_a_restart(tmp_path: Path) -> None:
    config = MockConfig(spec=str(PETSTORE), port=0, admin_port=0, data_dir=tmp_path)
    with MockServer(config) as first:
        httpx.put(
            f"{first.admin_url}/api/mock-data/scenarios/keep",
            json={"name": "keep", "rules": [{"operation": "getStatus", "status": 503}]},
        ).raise_for_status()
        httpx.post(f"{first.admin_url}/api/mock-data/scenarios/keep/activate").raise_for_status()
        httpx.get(f"{first.business_url}/status")
    with MockServer(config) as second:
        assert httpx.get(f"{second.business_url}/status").status_code == 503
        logs = httpx.get(f"{second.admin_url}/api/logs/search").json()
        assert logs["total"] >= 2  # the first run's request was flushed on stop


def test_admin_token(tmp_path: Path) -> None:
    config = MockConfig(
        spec=str(PETSTORE), port=0, admin_port=0, data_dir=tmp_path, admin_token="s3cret"
    )
    with MockServer(config) as server:
        assert httpx.get(f"{server.admin_url}/api/mock-data/scenarios").status_code == 401
        ok = httpx.get(
            f"{server.admin_url}/api/mock-data/scenarios",
            headers={"Authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 200
        assert httpx.get(f"{server.admin_url}/health").status_code == 200


def test_validation_off_and_no_auth(tmp_path: Path) -> None:
    config = MockConfig(
        spec=str(PETSTORE), port=0, admin_port=None, data_dir=tmp_path, validation="off", auth=False
    )
    with MockServer(config) as server:
        assert server.admin_url is None
        assert httpx.get(f"{server.business_url}/pets").status_code == 200
        assert httpx.post(f"{server.business_url}/pets", json={"name": 5}).status_code == 201


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = MockConfig(spec=str(PETSTORE), port=port, data_dir=tmp_path)
        with pytest.raises(ServerError, match=f"127.0.0.1:{port}.*in use"):
            MockServer(config).start()


def test_generated_bodies_validate_for_every_operation(api: httpx.Client) -> None:
    spec = load_spec(str(PETSTORE))
    validator = SchemaValidator(spec.document)
    checked = 0
    for op in spec.operations:
        if op.method != "get" or "{" in op.path:
            continue
        response = api.get(op.path, headers=AUTH)
        documented = op.responses.get(str(response.status_code))
        assert documented is not None, (op.operation_id, response.status_code)
        media = documented.content.get("application/json")
        if media is not None and media.schema is not None:
            try:
                validator_errors = validator.errors(media.schema, response.json())
            except jsonschema.SchemaError:  # pragma: no cover - schema itself broken
                continue
            assert validator_errors == [], op.operation_id
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    "relative", ["swagger2.yaml", "openapi30.yaml", "openapi31.yaml", "multi/api.yaml"]
)
def test_every_version_and_multi_file_serves_valid_bodies(relative: str, tmp_path: Path) -> None:
    path = FIXTURES / "specs" / relative
    spec = load_spec(path)
    validator = SchemaValidator(spec.document)
    config = MockConfig(spec=str(path), port=0, data_dir=tmp_path)
    credentials = {"Authorization": "Basic dTpw"}
    with MockServer(config) as server, httpx.Client(base_url=server.business_url) as client:
        checked = 0
        for op in spec.operations:
            if op.method != "get":
                continue
            url = op.path.replace("{petId}", "5")
            response = client.get(url, headers=credentials, params={"api_key": "k"})
            assert response.status_code == 200, (relative, op.operation_id, response.text)
            schema = op.responses["200"].content["application/json"].schema
            assert validator.errors(schema, response.json(), direction="response") == []
            checked += 1
        assert checked >= 1
