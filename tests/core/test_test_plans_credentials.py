"""Saved and hand-written plans get a mock's credentials the way generated plans do; an
unknown plan name lists the known plans and says how to create one."""

from __future__ import annotations

from typing import Any

import pytest

from mockloop import ConfigError, MockLoopClient
from mockloop.mock import MockConfig, MockServer
from mockloop.spec import load_spec
from mockloop.testing.plans.credentials import (
    PLACEHOLDER,
    add_mock_credentials,
    placeholder_credentials,
)
from mockloop.testing.plans.model import parse_plan
from mockloop.testing.plans.runner import prepare_steps
from tests.conftest import PETSTORE

API_KEY_QUERY = {
    "openapi": "3.0.3",
    "info": {"title": "Keys", "version": "1"},
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "query", "name": "api_key"}}
    },
    "security": [{"key": []}],
    "paths": {
        "/things": {
            "get": {"operationId": "listThings", "responses": {"200": {"description": "ok"}}}
        }
    },
}

STEPS: dict[str, list[dict[str, Any]]] = {
    "browse": [
        {"name": "list_pets", "operation": "listPets", "expect": {"status": 200}},
        {"name": "get_pet", "operation": "getPet", "path_params": {"petId": 1}},
    ],
    "cart": [
        {
            "name": "add",
            "operation": "createPet",
            "request": {"body": {"name": "Rex", "tag": "dog"}},
            "expect": {"status": 201},
        }
    ],
}


def _prepared(steps: list[dict[str, Any]], spec: Any, **plan: Any) -> list[Any]:
    return prepare_steps(parse_plan({"name": "p", "steps": steps, **plan}), spec)


def test_steps_without_credentials_get_placeholders_and_others_stay_as_written() -> None:
    spec = load_spec(str(PETSTORE))
    prepared = _prepared(
        [
            {"name": "bare", "operation": "listPets"},
            {
                "name": "own_key",
                "operation": "listPets",
                "request": {"headers": {"X-API-Key": "mine"}},
            },
            {
                "name": "blanked",
                "operation": "listPets",
                "request": {"headers": {"Authorization": ""}},
                "expect": {"status": "4XX"},
            },
            {"name": "refusal", "operation": "listPets", "expect": {"status": 401}},
            {"name": "public", "operation": "getStatus"},
        ],
        spec,
    )
    given = add_mock_credentials(prepared, spec)
    assert given == ["bare"]
    by_name = {p.name: p.step.request for p in prepared}
    assert by_name["bare"].headers == {"Authorization": f"Bearer {PLACEHOLDER}"}
    assert by_name["own_key"].headers == {"X-API-Key": "mine"}
    assert by_name["blanked"].headers == {"Authorization": ""}
    assert by_name["refusal"].headers == {}
    assert by_name["public"].headers == {}


def test_plan_and_caller_headers_count_as_credentials() -> None:
    spec = load_spec(str(PETSTORE))
    prepared = _prepared([{"name": "a", "operation": "listPets"}], spec)
    assert add_mock_credentials(prepared, spec, caller_headers={"authorization": "Bearer x"}) == []
    planned = _prepared(
        [{"name": "a", "operation": "listPets"}], spec, headers={"X-API-Key": "${env:HOME}"}
    )
    assert add_mock_credentials(planned, spec, plan_headers={"X-API-Key": "${env:HOME}"}) == []
    assert planned[0].step.request.headers == {}


def test_query_api_keys_go_into_the_query() -> None:
    spec = load_spec(API_KEY_QUERY)
    found = placeholder_credentials(spec, spec.operations[0])
    assert found.params == {"api_key": PLACEHOLDER} and found.headers == {}
    prepared = _prepared([{"name": "a", "operation": "listThings"}], spec)
    assert add_mock_credentials(prepared, spec) == ["a"]
    assert prepared[0].step.request.params == {"api_key": PLACEHOLDER}


@pytest.mark.parametrize("admin", [True, False], ids=["with-admin-port", "business-only"])
def test_saved_plans_pass_against_a_mock_with_auth_on(tmp_path: Any, admin: bool) -> None:
    extra = {"admin_port": 0} if admin else {}
    config = MockConfig.build(spec=str(PETSTORE), port=0, auth=True, storage=False, **extra)
    with MockServer(config) as server, MockLoopClient(home=str(tmp_path)) as client:
        for name, steps in STEPS.items():
            client.save_test_plan(f"{name}_test_plan", {"name": name, "steps": steps})
        for name in STEPS:
            run = client.execute_test_plan(
                server_url=server.business_url, test_plan=f"{name}_test_plan"
            )
            assert run.status == "passed", run.summary()
            assert any("placeholder" in note for note in run.notes)
            sent = run.steps[0].request
            assert sent is not None and "authorization" in {k.lower() for k in sent["headers"]}
        # A step that asks for the refusal still gets it: nothing is added to it.
        refused = client.execute_test_plan(
            server_url=server.business_url,
            test_plan={"steps": [{"operation": "listPets", "expect": {"status": 401}}]},
        )
        assert refused.status == "passed", refused.summary()


def test_plans_against_a_mock_with_auth_off_send_no_placeholders(tmp_path: Any) -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as server, MockLoopClient(home=str(tmp_path)) as client:
        run = client.execute_test_plan(
            server_url=server.business_url, test_plan={"steps": STEPS["cart"]}
        )
        assert run.status == "passed"
        assert not any("placeholder" in note for note in run.notes)
        sent = run.steps[0].request
        assert sent is not None and "authorization" not in {k.lower() for k in sent["headers"]}


def test_an_unknown_plan_lists_the_known_ones_and_how_to_create_one(tmp_path: Any) -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, storage=False)
    with MockServer(config) as server, MockLoopClient(home=str(tmp_path)) as client:
        with pytest.raises(ConfigError, match=r"Known plans .*: none yet") as first:
            client.execute_test_plan(
                server_url=server.business_url, test_plan="user_registration_test_plan"
            )
        assert "save_test_plan(name='user_registration_test_plan'" in str(first.value)
        client.save_test_plan("browse_test_plan", {"steps": STEPS["browse"]})
        with pytest.raises(ConfigError, match=r"Known plans .*: browse_test_plan\."):
            client.execute_test_plan(server_url=server.business_url, test_plan="checkout")
