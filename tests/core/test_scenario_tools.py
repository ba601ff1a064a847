"""Scenario tools against real mocks: validate, deploy, switch with verification, list active."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from mockloop import ConfigError, MockLoopClient, ScenarioError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.scenarios.check import check_scenario
from mockloop.mock.scenarios.schema import SCHEMA_REGEN_COMMAND, scenario_json_schema
from tests.conftest import PETSTORE, ROOT

PUBLISHED_SCHEMA = ROOT / "docs" / "scenario.schema.json"


def _serve(**settings: Any) -> MockServer:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False, **settings)
    return MockServer(config)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    # auth on: verification must authenticate like any client (placeholder credentials)
    with _serve(auth=True) as running:
        yield running


@pytest.fixture
def client(mock: MockServer) -> Iterator[MockLoopClient]:
    runtime = mock.runtime
    runtime.deactivate_scenario()
    runtime.clear_overrides()
    for stored in runtime.list_scenarios():
        runtime.delete_scenario(stored["name"])
    with MockLoopClient(timeout=10) as sync_client:
        yield sync_client


def _locations(result: Any, kind: str = "problems") -> dict[str, str]:
    return {p.location: p.message for p in result[kind]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PETS_DOWN = {
    "name": "pets_down",
    "description": "getPet fails and says when to retry",
    "type": "error",
    "test_plan": {"steps": ["GET /pets/1"]},
    "rules": [
        {
            "operation": "getPet",
            "status": 503,
            "headers": {"Retry-After": "2"},
            "delay_ms": 40,
        }
    ],
}


# -- the published schema -----------------------------------------------------------------------


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads(PUBLISHED_SCHEMA.read_text(encoding="utf-8"))
    assert published == scenario_json_schema(), (
        f"docs/scenario.schema.json drifted from the models; regenerate it with: "
        f"{SCHEMA_REGEN_COMMAND}"
    )


@pytest.mark.parametrize(
    "scenario",
    [
        PETS_DOWN,
        {"name": "a", "x-owner": "qa", "rules": [{"method": "get", "path": "/pets/*"}]},
        {"name": "a", "rules": [{"delay": {"distribution": "uniform", "min_ms": 1, "max_ms": 5}}]},
        {"name": "a", "rules": [{"status": "503"}]},
        {"name": "a", "bogus": 1},
        {"name": "a", "rules": [{"delay": {"distribution": "normal", "mean_ms": 5}}]},
        {"name": "a", "rules": [{"delay": {"distribution": "fixed"}}]},
        {"name": "a", "rules": [{"error_rate": 1.5}]},
        {"name": "a", "rules": [{"method": "FETCH"}]},
        {"name": "a", "rules": [{"sequence": [{"status": 200, "nope": 1}]}]},
        {"rules": []},
        {"name": "a/b"},
        # the original MockLoop shape, normalised into rules
        {
            "scenario_name": "down",
            "scenario_type": "error_simulation",
            "endpoints": [
                {"path": "/pets", "method": "get", "response_config": {"status_code": 503}}
            ],
            "test_parameters": {"concurrent_users": 5},
            "validation_rules": [{"rule_type": "status", "expected_value": 503}],
        },
        {"scenario_name": "a", "endpoints": [], "rules": []},
        {"scenario_name": "a", "endpoints": [{"path": "/pets", "status_code": 503}]},
        {"scenario_name": "a", "scenario_type": "chaos", "endpoints": []},
        {"scenario_name": "a/b", "endpoints": []},
        {"name": "a", "test_parameters": {"concurrent_users": 0}},
    ],
)
def test_the_schema_and_strict_validation_agree(scenario: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    by_schema = not list(validator.iter_errors(scenario))
    assert by_schema == check_scenario(scenario, strict=True).valid


# -- validate_scenario_config ---------------------------------------------------------------


def test_a_valid_scenario_is_normalised_and_checked_against_the_description(
    client: MockLoopClient,
) -> None:
    result = client.validate_scenario_config(PETS_DOWN, api_spec=str(PETSTORE))
    assert result.valid and result["problems"] == []
    assert result.endpoints_checked and "MockLoop Pet Store" in (result.checked_against or "")
    assert result.endpoint_matches[0].applies_to == ["getPet"]
    # metadata keys are kept under metadata, the rule as given
    assert result.scenario is not None
    assert result.scenario["metadata"]["type"] == "error"
    assert result.scenario["metadata"]["test_plan"] == {"steps": ["GET /pets/1"]}
    assert result.scenario["rules"][0]["status"] == 503
    # 503 is not documented for getPet: valid, with a warning that says what is served
    assert "problem+json" in _locations(result, "warnings")["rules[0].status"]
    assert "is valid" in result.summary()


def test_wrong_types_are_errors_when_strict_and_converted_otherwise(
    client: MockLoopClient,
) -> None:
    scenario = {"name": "typed", "rules": [{"operation": "getPet", "status": "503"}]}
    strict = client.validate_scenario_config(scenario, check_endpoints=False)
    assert not strict.valid
    message = _locations(strict)["rules[0].status"]
    assert "valid integer" in message and "'503'" in message and "strict_validation" in message
    lax = client.validate_scenario_config(scenario, strict_validation=False, check_endpoints=False)
    assert lax.valid
    assert "converted" in _locations(lax, "warnings")["rules[0].status"]
    assert lax.scenario is not None and lax.scenario["rules"][0]["status"] == 503
    not_a_list = client.validate_scenario_config({"name": "x", "rules": "all"})
    assert "valid list" in _locations(not_a_list)["rules"]


def test_unknown_fields_name_the_field_and_the_closest_known_one(client: MockLoopClient) -> None:
    scenario = {
        "name": "typo",
        "scenario_kind": "load",
        "x-owner": "qa",
        "rules": [{"operation": "getPet", "stauts": 404}],
    }
    strict = client.validate_scenario_config(scenario, check_endpoints=False)
    problems = _locations(strict)
    assert set(problems) == {"scenario_kind", "rules[0].stauts"}
    assert "did you mean 'status'" in problems["rules[0].stauts"]
    assert "did you mean 'scenario_type'" in problems["scenario_kind"]
    # not strict: the unknown top-level key is a warning kept in metadata; the rule's stays
    lax = client.validate_scenario_config(scenario, strict_validation=False, check_endpoints=False)
    assert set(_locations(lax)) == {"rules[0].stauts"}
    assert "kept under metadata" in _locations(lax, "warnings")["scenario_kind"]


def test_bad_delays_point_at_the_missing_or_wrong_parameter(client: MockLoopClient) -> None:
    scenario = {
        "name": "delays",
        "rules": [
            {"operation": "getPet", "delay": {"distribution": "normal", "mean_ms": 100}},
            {
                "operation": "listPets",
                "delay": {"distribution": "uniform", "min_ms": 9, "max_ms": 1},
            },
            {"operation": "getOwner", "delay": {"distribution": "exponential", "mean_ms": -5}},
            {"operation": "listOwners", "delay": {"distribution": "gamma", "ms": 1}},
        ],
    }
    result = client.validate_scenario_config(scenario, check_endpoints=False)
    problems = _locations(result)
    assert "needs stddev_ms" in problems["rules[0].delay.stddev_ms"]
    assert "must not exceed max_ms" in problems["rules[1].delay.min_ms"]
    assert "greater than or equal to 0" in problems["rules[2].delay.mean_ms"]
    assert (
        "'fixed', 'uniform', 'normal' or 'exponential'" in problems["rules[3].delay.distribution"]
    )
    assert result.scenario is None and result.rule_count is None
    assert "4 problem(s)" in result.summary()


def test_unknown_operations_against_the_petstore_are_located(client: MockLoopClient) -> None:
    scenario = {
        "name": "elsewhere",
        "rules": [
            {"operation": "getPets", "status": 500},
            {"path": "/pet/*", "status": 500},
            {"method": "DELETE", "path": "/owners", "status": 500},
            {"operation": "getPet", "example": "garfield"},
            {"operation": "listPets", "status": 429},
            {"path": "/pets", "method": "GET", "headers": {"X-Never": "1"}},
        ],
    }
    result = client.validate_scenario_config(scenario, api_spec=str(PETSTORE))
    problems = _locations(result)
    assert "did you mean 'getPet'" in problems["rules[0].operation"]
    assert "/pets/{petId}" in problems["rules[1].path"]
    assert "documented there: GET" in problems["rules[2].method"]
    assert "fluffy, rex" in problems["rules[3].example"]
    assert "never applies" in _locations(result, "warnings")["rules[5]"]
    assert [m.operations for m in result.endpoint_matches][:3] == [[], [], []]


def test_endpoints_are_checked_against_a_running_mock_or_said_not_to_be(
    client: MockLoopClient, mock: MockServer
) -> None:
    scenario = {"name": "ghost", "rules": [{"operation": "getUnicorn", "status": 500}]}
    against_mock = client.validate_scenario_config(scenario, server_url=mock.business_url)
    assert "rules[0].operation" in _locations(against_mock)
    assert mock.business_url in (against_mock.checked_against or "")
    unchecked = client.validate_scenario_config(scenario)
    assert unchecked.valid and not unchecked.endpoints_checked
    assert "endpoints were not checked" in _locations(unchecked, "warnings")["rules"]
    with pytest.raises(ConfigError, match="not both"):
        client.validate_scenario_config(
            scenario, api_spec=str(PETSTORE), server_url=mock.business_url
        )


def test_only_unusable_input_raises(client: MockLoopClient) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        client.validate_scenario_config(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="JSON object"):
        client.validate_scenario_config("- just\n- a list\n")
    text = client.validate_scenario_config(
        "name: from_text\nrules:\n  - {operation: getPet, status: 404}\n",
        api_spec=str(PETSTORE),
    )
    assert text.valid and text.scenario_name == "from_text"


# -- deploy_scenario ------------------------------------------------------------------------


def _stored(mock: MockServer) -> dict[str, dict[str, Any]]:
    return {s["name"]: s["config"] for s in mock.runtime.list_scenarios()}


def test_deploy_creates_then_replaces_without_activating(
    client: MockLoopClient, mock: MockServer
) -> None:
    created = client.deploy_scenario(server_url=mock.business_url, scenario_config=PETS_DOWN)
    assert created.action == "created" and not created.active and created.rule_count == 1
    assert created.active_scenario is None and mock.runtime.rules.active_scenario is None
    assert _stored(mock)["pets_down"]["metadata"]["type"] == "error"
    changed = {
        **PETS_DOWN,
        "rules": [*PETS_DOWN["rules"], {"operation": "listPets", "status": 500}],
    }
    replaced = client.deploy_scenario(mock.admin_url or "", changed, activate=True)
    assert replaced.action == "replaced" and replaced.activated and replaced.active
    assert replaced.rule_count == 2 and len(_stored(mock)["pets_down"]["rules"]) == 2
    assert mock.runtime.rules.active_scenario == "pets_down"
    assert "replaced" in replaced.summary()


def test_invalid_scenario_is_refused_with_every_problem_located(
    client: MockLoopClient, mock: MockServer
) -> None:
    scenario = {
        "name": "broken",
        "rules": [
            {"operation": "getPets", "status": 500},
            {"operation": "getPet", "delay": {"distribution": "normal", "mean_ms": 5}},
        ],
    }
    with pytest.raises(ScenarioError) as caught:
        client.deploy_scenario(server_url=mock.business_url, scenario_config=scenario)
    message = str(caught.value)
    assert "rules[0].operation" in message and "did you mean 'getPet'" in message
    assert "rules[1].delay.stddev_ms" in message and "force_deploy" in message
    assert "broken" not in _stored(mock)


def test_force_deploy_reports_problems_but_the_mock_still_refuses_what_it_cannot_serve(
    client: MockLoopClient, mock: MockServer
) -> None:
    loose = {"name": "loose", "owner": "qa", "rules": [{"operation": "getPet", "status": "418"}]}
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.status"):
        client.deploy_scenario(mock.business_url, loose)
    forced = client.deploy_scenario(mock.business_url, loose, force_deploy=True)
    assert forced.forced and forced.action == "created"
    assert {"owner", "rules[0].status"} <= set(_locations(forced, "warnings"))
    assert _stored(mock)["loose"] == {
        "name": "loose",
        "rules": [{"operation": "getPet", "status": 418}],
        "metadata": {"owner": "qa"},
    }
    unserveable = {"name": "nowhere", "rules": [{"operation": "getUnicorn"}]}
    with pytest.raises(ScenarioError, match=r"refused scenario 'nowhere'.*getUnicorn"):
        client.deploy_scenario(mock.business_url, unserveable, force_deploy=True)
    assert "nowhere" not in _stored(mock)


def test_deploy_without_validation_leaves_the_check_to_the_mock(
    client: MockLoopClient, mock: MockServer
) -> None:
    plain = {"name": "plain", "type": "load", "rules": [{"operation": "listPets", "status": 500}]}
    deployed = client.deploy_scenario(mock.business_url, plain, validate_before_deploy=False)
    assert not deployed.validated and deployed.warnings == []
    assert _stored(mock)["plain"]["metadata"] == {"type": "load"}
    with pytest.raises(ScenarioError, match=r"refused scenario 'odd'.*error_rate"):
        client.deploy_scenario(
            mock.business_url,
            {"name": "odd", "rules": [{"error_rate": 3}]},
            validate_before_deploy=False,
        )
    with pytest.raises(ScenarioError, match=r"name: 'a/b' contains '/'"):
        client.deploy_scenario(mock.business_url, {"name": "a/b", "rules": []})


# -- switch_scenario ------------------------------------------------------------------------


def test_switch_verifies_with_a_real_request(client: MockLoopClient, mock: MockServer) -> None:
    client.deploy_scenario(mock.business_url, PETS_DOWN)
    result = client.switch_scenario(server_url=mock.business_url, scenario_name="pets_down")
    assert result.active_scenario == "pets_down" and result.verified is True
    evidence = result.verification
    assert (
        evidence is not None and evidence.rule == "rules[0]" and evidence.operation_id == "getPet"
    )
    assert evidence.request is not None and "/pets/" in evidence.request["url"]
    assert evidence.response is not None and evidence.response["status"] == 503
    assert evidence.response["elapsed_ms"] >= 38
    checks = {c.what: c for c in evidence.checks}
    assert checks["header Retry-After"].observed == "2"
    assert checks["delay"].ok and checks["status"].expected == 503
    # the request is real: the mock logged it
    logs = client.query_mock_logs(mock.business_url, path_pattern="^/pets/", analyze=False)
    assert any(
        r["status"] == 503 and r["request_headers"].get("x-mockloop-verification")
        for r in logs.records
    )
    assert "answered 503" in result.summary()


def test_a_switch_that_does_not_answer_as_the_rule_says_is_reported(
    client: MockLoopClient, mock: MockServer
) -> None:
    # validation flags the example; forced onto the mock, it answers 422 instead
    scenario = {"name": "wrong_example", "rules": [{"operation": "getPet", "example": "garfield"}]}
    client.deploy_scenario(mock.business_url, scenario, force_deploy=True)
    result = client.switch_scenario(mock.business_url, "wrong_example")
    assert result.verified is False and result.active_scenario == "wrong_example"
    assert result.verification is not None and result.verification.status == "failed"
    failed = {c.what: c for c in result.verification.checks if not c.ok}
    assert "Unknown example" in json.dumps(failed["example garfield"].observed)
    assert "does not match the rule" in result.verification.reason


def test_random_rules_are_not_verifiable_and_overrides_are_respected(
    client: MockLoopClient, mock: MockServer
) -> None:
    flaky = {"name": "flaky", "rules": [{"operation": "createPet", "error_rate": 0.5}]}
    client.deploy_scenario(mock.business_url, flaky)
    result = client.switch_scenario(mock.business_url, "flaky")
    assert result.verified is None and result.active_scenario == "flaky"
    assert result.verification is not None and result.verification.status == "not_verifiable"
    assert "at random" in result.verification.reason
    # an override answers getPet first, so the listPets rule is the one checked
    client.manage_mock_data(
        mock.business_url, "update_response", endpoint_path="getPet", response_data={"status": 404}
    )
    two = {
        "name": "two",
        "rules": [
            {"operation": "getPet", "status": 503},
            {"operation": "listPets", "headers": {"X-Two": "yes"}},
        ],
    }
    client.deploy_scenario(mock.business_url, two)
    switched = client.switch_scenario(mock.business_url, "two")
    assert switched.verified is True and switched.verification is not None
    assert switched.verification.operation_id == "listPets"
    assert any("override" in note for note in switched.verification.notes)
    skipped = client.switch_scenario(mock.business_url, "flaky", verify_switch=False)
    assert skipped.verified is None and skipped.verification is None


def test_verifying_a_sequence_restarts_it_for_real_traffic(
    client: MockLoopClient, mock: MockServer
) -> None:
    steps = {
        "name": "steps",
        "rules": [
            {
                "operation": "listPets",
                "sequence": [{"status": 200, "headers": {"X-Step": "1"}}, {"status": 429}],
            }
        ],
    }
    client.deploy_scenario(mock.business_url, steps)
    result = client.switch_scenario(mock.business_url, "steps")
    assert result.verified is True and result.verification is not None
    assert result.verification.answer == "sequence[0]" and result.verification.sequences_restarted
    headers = {"Authorization": "Bearer t"}
    first = httpx.get(f"{mock.business_url}/v1/pets", headers=headers)
    second = httpx.get(f"{mock.business_url}/v1/pets", headers=headers)
    assert (first.status_code, first.headers.get("x-step")) == (200, "1")
    assert second.status_code == 429


def test_an_unknown_scenario_names_the_known_ones(client: MockLoopClient, mock: MockServer) -> None:
    client.deploy_scenario(mock.business_url, PETS_DOWN)
    with pytest.raises(ScenarioError, match=r"unknown scenario 'nope' \(known: pets_down\)"):
        client.switch_scenario(mock.business_url, "nope")


# -- list_active_scenarios ------------------------------------------------------------------


def test_list_active_over_two_mocks_and_an_unreachable_url(
    client: MockLoopClient, mock: MockServer
) -> None:
    client.deploy_scenario(mock.business_url, PETS_DOWN, activate=True)
    with _serve(auth=False) as other:
        dead = f"http://127.0.0.1:{_free_port()}"
        listed = client.list_active_scenarios(
            server_urls=[mock.business_url, other.business_url, dead]
        )
        by_url = {entry.server_url: entry for entry in listed.servers}
        assert by_url[mock.business_url].active_scenario == "pets_down"
        assert by_url[mock.business_url].rule_count == 1
        assert by_url[mock.business_url].title == "MockLoop Pet Store"
        assert (
            by_url[other.business_url].reachable
            and by_url[other.business_url].active_scenario is None
        )
        assert not by_url[dead].reachable and "nothing answers" in (by_url[dead].error or "")
        assert (listed.checked, listed.reachable, listed.unreachable) == (3, 2, 1)
        assert listed.with_active_scenario == 1
        # discovery finds both mocks (each once, though both of its ports answer)
        ports = [
            int(url.rsplit(":", 1)[1])
            for url in (mock.business_url, mock.admin_url, other.business_url, other.admin_url)
            if url
        ]
        found = client.list_active_scenarios(ports=ports)
        assert found.sources == ["discovery"]
        assert sorted(e.business_url or "" for e in found.servers) == sorted(
            [mock.business_url, other.business_url]
        )
        assert "'pets_down' (1 rule(s))" in found.summary()
