"""Request matching (`when`) and response templating in scenario rules and overrides: the cases
WireMock's and Mockoon's documentation show, written as MockLoop scenarios and served."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mockloop.errors import ScenarioError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.scenarios.check import check_scenario
from mockloop.mock.scenarios.matching import RequestView, When, json_path
from mockloop.mock.scenarios.rules import parse_scenario
from mockloop.spec import load_spec
from tests.conftest import PETSTORE

KEY = {"X-API-Key": "k"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(spec=str(PETSTORE), port=0, admin_port=0, storage=False)) as served:
        yield served


def _activate(mock: MockServer, scenario: dict[str, Any]) -> None:
    created = httpx.put(
        f"{mock.admin_url}/api/mock-data/scenarios/{scenario['name']}", json=scenario
    )
    assert created.status_code == 200, created.text
    httpx.post(f"{mock.admin_url}/api/mock-data/scenarios/{scenario['name']}/activate")


def test_one_id_answers_404_and_every_other_id_200(mock: MockServer) -> None:
    # WireMock: a stub for one URL next to a catch-all; Mockoon: a route response with a rule.
    _activate(
        mock,
        {
            "name": "missing-999",
            "rules": [
                {
                    "operation": "getPet",
                    "when": {"path": {"petId": "999"}},
                    "status": 404,
                    "body": {"error": "no pet 999"},
                }
            ],
        },
    )
    assert httpx.get(f"{mock.business_url}/pets/999", headers=KEY).status_code == 404
    assert httpx.get(f"{mock.business_url}/pets/999", headers=KEY).json() == {"error": "no pet 999"}
    for pet in (1, 7, 998):
        assert httpx.get(f"{mock.business_url}/pets/{pet}", headers=KEY).status_code == 200


def test_body_header_query_cookie_and_session_tests(mock: MockServer) -> None:
    _activate(
        mock,
        {
            "name": "by-request",
            "rules": [
                {
                    "operation": "createPet",
                    "when": {"body": {"$.tag": "fish"}},
                    "status": 422,
                    "body": {"error": "no fish"},
                },
                {
                    "operation": "createPet",
                    "when": {"body_partial": {"photo_urls": ["http://x.test/a.png"]}},
                    "status": 400,
                },
                {
                    "operation": "listPets",
                    "when": {"headers": {"x-tenant": "b"}},
                    "body": [{"id": 2, "name": "Tenant B's pet"}],
                },
                {
                    "operation": "listPets",
                    "when": {"query": {"limit": {"min": 50}}, "cookies": {"plan": "free"}},
                    "status": 402,
                },
                {
                    "operation": "listPets",
                    "when": {"session": {"regex": "^admin-"}},
                    "headers": {"X-Role": "admin"},
                },
            ],
        },
    )
    base = mock.business_url
    fish = httpx.post(f"{base}/pets", json={"name": "Nemo", "tag": "fish"}, headers=KEY)
    assert fish.status_code == 422 and fish.json() == {"error": "no fish"}
    dog = httpx.post(f"{base}/pets", json={"name": "Rex", "tag": "dog"}, headers=KEY)
    assert dog.status_code == 201
    photo = {"name": "P", "photo_urls": ["http://y.test/b.png", "http://x.test/a.png"]}
    assert httpx.post(f"{base}/pets", json=photo, headers=KEY).status_code == 400

    tenant_b = httpx.get(f"{base}/pets", headers={**KEY, "X-Tenant": "b"})
    assert tenant_b.json() == [{"id": 2, "name": "Tenant B's pet"}]
    assert httpx.get(f"{base}/pets", headers={**KEY, "X-Tenant": "a"}).json() != tenant_b.json()

    free = {**KEY, "Cookie": "plan=free; theme=dark"}
    assert httpx.get(f"{base}/pets?limit=80", headers=free).status_code == 402
    assert httpx.get(f"{base}/pets?limit=10", headers=free).status_code == 200
    paid = {**KEY, "Cookie": "plan=pro"}
    assert httpx.get(f"{base}/pets?limit=80", headers=paid).status_code == 200

    admin = httpx.get(f"{base}/pets", headers={**KEY, "X-Session-ID": "admin-1"})
    assert admin.headers["x-role"] == "admin"
    assert "x-role" not in httpx.get(f"{base}/pets", headers=KEY).headers


def test_templates_echo_the_request_and_generate_values(mock: MockServer) -> None:
    # WireMock's response templating ({{request.path.[1]}}, {{now}}, {{randomValue}}) and
    # Mockoon's ({{urlParam 'id'}}, {{header 'X'}}, {{body 'a.b'}}, {{faker 'internet.email'}}).
    _activate(
        mock,
        {
            "name": "echo",
            "rules": [
                {
                    "operation": "getPet",
                    "template": True,
                    "body": {
                        "id": "{{path.petId | int}}",
                        "name": "Pet {{path.petId}} of {{header.X-Owner | default('nobody')}}",
                        "tag": "{{query.tag | upper}}",
                        "seen_at": "{{now}}",
                        "trace": "{{uuid}}",
                        "contact": "{{fake.email}}",
                        "roll": "{{random.int(1, 6) | int}}",
                        "how": "{{method}} {{url}}",
                    },
                    "headers": {"X-Echo": "{{header.X-Owner}}", "X-Id": "{{path.petId}}"},
                },
                {
                    "operation": "createPet",
                    "status": 201,
                    "template": True,
                    "body": {"id": 1, "name": "{{body.name}}", "price": "{{body.price | number}}"},
                },
            ],
        },
    )
    base = mock.business_url
    before = datetime.now(UTC) - timedelta(seconds=5)
    answer = httpx.get(f"{base}/pets/42?tag=dog", headers={**KEY, "X-Owner": "ann"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == 42
    assert body["name"] == "Pet 42 of ann"
    assert body["tag"] == "DOG"
    assert datetime.fromisoformat(body["seen_at"].replace("Z", "+00:00")) >= before
    assert uuid.UUID(body["trace"]).version == 4
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", body["contact"])
    assert body["roll"] in range(1, 7)
    assert body["how"] == "GET /pets/42?tag=dog"
    assert answer.headers["x-echo"] == "ann" and answer.headers["x-id"] == "42"
    nobody = httpx.get(f"{base}/pets/5", headers=KEY).json()
    assert nobody["name"] == "Pet 5 of nobody" and nobody["tag"] == ""
    created = httpx.post(f"{base}/pets", json={"name": "Rex", "price": 12.5}, headers=KEY)
    assert created.status_code == 201
    assert created.json() == {"id": 1, "name": "Rex", "price": 12.5}
    # A value a filter cannot convert stays text: never a failed answer.
    odd = httpx.post(f"{base}/pets", json={"name": "Odd", "price": 1}, headers=KEY)
    assert odd.json()["price"] == 1
    # An echoed header value cannot split the answer's header block.
    crafted = httpx.get(f"{base}/pets/3", headers={**KEY, "X-Owner": "a\tb"})
    assert crafted.status_code == 200 and crafted.headers["x-echo"] == "a\tb"


def test_overrides_take_when_and_templates_too(mock: MockServer) -> None:
    httpx.post(f"{mock.admin_url}/api/mock-data/scenarios/deactivate")
    put = httpx.put(
        f"{mock.admin_url}/api/mock-data/responses/getPet",
        json={
            "when": {"path": {"petId": {"one_of": [10, 11]}}},
            "template": True,
            "body": {"id": "{{path.petId}}"},
        },
    )
    assert put.status_code == 200, put.text
    try:
        assert httpx.get(f"{mock.business_url}/pets/11", headers=KEY).json() == {"id": "11"}
        assert httpx.get(f"{mock.business_url}/pets/12", headers=KEY).json() != {"id": "12"}
    finally:
        httpx.delete(f"{mock.admin_url}/api/mock-data/responses/getPet")


def test_bad_templates_and_tests_are_validation_errors_with_their_location(
    mock: MockServer,
) -> None:
    bad = {
        "name": "bad",
        "rules": [{"operation": "getPet", "template": True, "body": {"id": "{{pth.petId}}"}}],
    }
    refused = httpx.put(f"{mock.admin_url}/api/mock-data/scenarios/bad", json=bad)
    assert refused.status_code == 400
    assert "body.id: unknown template value 'pth.petId'" in refused.json()["detail"]
    with pytest.raises(ScenarioError, match=r"headers.X: unknown template filter 'shout'"):
        parse_scenario(
            {
                "name": "x",
                "rules": [
                    {"operation": "getPet", "template": True, "headers": {"X": "{{uuid|shout}}"}}
                ],
            }
        )
    with pytest.raises(ScenarioError, match="cannot be matched in linear time"):
        parse_scenario({"name": "x", "rules": [{"when": {"query": {"q": {"regex": "(a+)+\\1"}}}}]})
    with pytest.raises(ScenarioError, match="give exactly one of equals, regex"):
        parse_scenario({"name": "x", "rules": [{"when": {"path": {"id": {}}}}]})
    with pytest.raises(ScenarioError, match="is not a JSONPath"):
        parse_scenario({"name": "x", "rules": [{"when": {"body": {"items[0]": 1}}}]})

    spec = load_spec(PETSTORE)
    check = check_scenario(
        {
            "name": "against",
            "rules": [
                {"operation": "getPet", "when": {"path": {"petid": "1"}}, "status": 404},
                {"operation": "getPet", "when": {"path": {"petId": "abc"}}, "status": 404},
                {"operation": "listPets", "when": {"query": {"tag": {"min": 1}}}, "status": 400},
                {"operation": "listPets", "when": {"query": {"page": "2"}}, "status": 400},
            ],
        },
        operations=spec.operations,
    )
    errors = {p.location: p.message for p in check.problems}
    warnings = {p.location: p.message for p in check.warnings}
    assert (
        "declares no path parameter 'petid' (declared: petId)" in errors["rules[0].when.path.petid"]
    )
    assert "'abc' is not a number" in errors["rules[1].when.path.petId"]
    assert "min/max compare numbers" in errors["rules[2].when.query.tag"]
    assert "a request may still carry it" in warnings["rules[3].when.query.page"]
    # Rules with `when` do not shadow the rules after them.
    assert not any("never applies" in message for message in warnings.values())
    # Off by default: `{{` is text (payloads, other template languages), and a body that
    # reads as templates gets a hint.
    literal = parse_scenario(
        {"name": "x", "rules": [{"operation": "getPet", "body": {"note": "{{7*7}} {{path.a}}"}}]}
    )
    assert literal.rules[0].templated is False
    hinted = check_scenario(
        {"name": "x", "rules": [{"operation": "getPet", "body": {"id": "{{path.petId}}"}}]}
    )
    assert (
        "set template: true"
        in {p.location: p.message for p in hinted.warnings}["rules[0].template"]
    )


def test_the_matching_parts_on_their_own() -> None:
    document = {"order": {"items": [{"sku": "a", "n": 2}, {"sku": "b", "n": 5}]}}
    assert list(json_path(document, "$.order.items[*].sku")) == ["a", "b"]
    assert list(json_path(document, "$.order.items[1].n")) == [5]
    assert list(json_path(document, "$['order'].missing")) == []
    assert list(json_path(document, "$.order.items[?@.n > 3].sku")) == ["b"]  # filters
    # The regex functions run Python's backtracking engine: not offered to rules.
    with pytest.raises(ScenarioError, match="the =~ operator runs Python's backtracking"):
        parse_scenario({"name": "x", "rules": [{"when": {"body": {"$.a[?@.x =~ /a+/]": 1}}}]})
    with pytest.raises(ScenarioError, match="function 'match' is not defined"):
        parse_scenario({"name": "x", "rules": [{"when": {"body": {"$.a[?match(@, 'x')]": 1}}}]})
    view = RequestView({}, "a=1&a=2", [(b"content-type", b"application/json")], b'{"n": "7"}')
    assert When.model_validate({"query": {"a": "2"}}).holds(view)  # any of the values
    assert When.model_validate({"body": {"$.n": 7}}).holds(view)  # "7" spells 7
    assert When.model_validate({"body": {"$.n": {"max": 6.5}}}).holds(view) is False
    assert When.model_validate({"body": {"$.x": {"present": False}}}).holds(view)
    empty = RequestView({}, "", [], b"not json")
    assert When.model_validate({"body": {"$.x": {"present": False}}}).holds(empty)
    assert When.model_validate({"body_partial": {"a": 1}}).holds(empty) is False


def test_rendering_never_fails_an_answer(mock: MockServer) -> None:
    _activate(
        mock,
        {
            "name": "hostile-echo",
            "rules": [
                {
                    "operation": "getPet",
                    "template": True,
                    "body": {"n": "{{query.n | int}} items", "all": "{{body}}"},
                    "headers": {"X-Echo": "{{query.h}}", "X-Count": "{{query.n | int}}"},
                },
                {"operation": "listPets", "template": True, "body": {"echo": "{{query.q}}" * 150}},
            ],
        },
    )
    base = mock.business_url
    huge = httpx.get(f"{base}/pets/1", params={"n": "1e300", "h": "\x00a\x0bb"}, headers=KEY)
    assert huge.status_code == 200, huge.text
    assert huge.json()["n"] == "1e300 items"  # past 64 bits: left as text
    assert huge.headers["x-count"] == "1e300"
    assert huge.headers["x-echo"].strip() == "a b"  # control characters replaced
    # An echo that would outgrow the response limit is a 413 naming the rule, built lazily.
    refused = httpx.get(f"{base}/pets", params={"q": "x" * 7500}, headers=KEY)
    assert refused.status_code == 413  # 150 x 7,500 characters > 1 MiB
    assert "listPets" in refused.json()["detail"] and "--max-response-size" in refused.text
    fits = httpx.get(f"{base}/pets", params={"q": "x" * 100}, headers=KEY)
    assert fits.status_code == 200 and len(fits.json()["echo"]) == 15_000


def test_overrides_refuse_tests_that_can_never_hold(mock: MockServer) -> None:
    refused = httpx.put(
        f"{mock.admin_url}/api/mock-data/responses/getPet",
        json={"when": {"path": {"petid": "1"}}, "status": 404},
    )
    assert refused.status_code == 400
    assert "when.path.petid" in refused.json()["detail"]


def test_a_parameter_test_is_an_error_only_when_every_declaring_operation_rejects_it() -> None:
    from mockloop.mock.scenarios.matching import when_problems

    def get(operation_id: str, kind: str) -> dict[str, Any]:
        parameter = {"name": "id", "in": "path", "required": True, "schema": {"type": kind}}
        return {
            "get": {
                "operationId": operation_id,
                "parameters": [parameter],
                "responses": {"200": {"description": "ok"}},
            }
        }

    spec = load_spec(
        {
            "openapi": "3.0.3",
            "info": {"title": "Two ids", "version": "1"},
            "paths": {
                "/users/{id}": get("getUser", "string"),
                "/orders/{id}": get("getOrder", "integer"),
            },
        }
    )
    when = When.model_validate({"path": {"id": "alice"}})
    # /users/{id} takes "alice": a rule over both GETs answers it there.
    assert when_problems(when, spec.operations) == []
    orders = [op for op in spec.operations if op.operation_id == "getOrder"]
    assert when_problems(when, orders) == [
        ("path.id", "id is of type integer: 'alice' is not a number", "error")
    ]
