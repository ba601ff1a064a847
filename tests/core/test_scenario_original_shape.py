"""Scenarios in the original MockLoop shape (scenario_name, endpoints with response_config,
test_parameters, validation_rules): normalised into rules, reported, deployed and in effect."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from mockloop import MockLoopClient, ScenarioError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.scenarios.check import check_scenario
from mockloop.mock.scenarios.original import TestParameters, ValidationRule
from mockloop.mock.scenarios.rules import parse_scenario
from mockloop.mock.scenarios.schema import scenario_json_schema
from mockloop.mock.scenarios.verify import DELAY_TOLERANCE_MS, judge_validation_rules
from tests.waiting import wait_for

_PAYMENT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["id", "amount"],
}

# A small description with POST /payments (the petstore has none).
PAYMENTS_API: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Payments", "version": "1.0.0"},
    "paths": {
        "/payments": {
            "get": {
                "operationId": "listPayments",
                "responses": {
                    "200": {
                        "description": "payments",
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": _PAYMENT}}
                        },
                    }
                },
            },
            "post": {
                "operationId": "createPayment",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _PAYMENT}},
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {"application/json": {"schema": _PAYMENT}},
                    },
                    "503": {"description": "payments are down"},
                },
            },
        },
        "/payments/{paymentId}": {
            "get": {
                "operationId": "getPayment",
                "parameters": [
                    {
                        "name": "paymentId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "a payment",
                        "content": {"application/json": {"schema": _PAYMENT}},
                    },
                    "404": {"description": "no such payment"},
                },
            }
        },
    },
}

# The scenario exactly as USAGE.md documents the original shape.
PAYMENT_OUTAGE: dict[str, Any] = {
    "scenario_name": "payment_outage",
    "description": "Payments fail while the catalogue stays up",
    "scenario_type": "error_simulation",
    "endpoints": [
        {
            "path": "/payments",
            "method": "POST",
            "response_config": {
                "status_code": 503,
                "response_time_ms": 200,
                "response_data": {"error": "unavailable"},
                "headers": {"Retry-After": "5"},
            },
        },
    ],
    "test_parameters": {
        "concurrent_users": 10,
        "duration_seconds": 60,
        "ramp_up_time": 5,
        "error_rate_threshold": 0.05,
    },
    "validation_rules": [{"rule_type": "status", "condition": "equals", "expected_value": 503}],
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=PAYMENTS_API, port=0, admin_port=0, storage=False)
    with MockServer(config) as running:
        yield running


@pytest.fixture
def client(mock: MockServer) -> Iterator[MockLoopClient]:
    runtime = mock.runtime
    runtime.deactivate_scenario()
    for stored in runtime.list_scenarios():
        runtime.delete_scenario(stored["name"])
    with MockLoopClient(timeout=10) as sync_client:
        yield sync_client


def _variant(**changes: Any) -> dict[str, Any]:
    scenario = copy.deepcopy(PAYMENT_OUTAGE)
    scenario.update(changes)
    return scenario


def _locations(result: Any, kind: str = "problems") -> dict[str, str]:
    return {p.location: p.message for p in result[kind]}


# -- validation reports the normalisation ------------------------------------------------------


def test_the_original_shape_validates_strictly_and_reports_what_it_became(
    client: MockLoopClient,
) -> None:
    result = client.validate_scenario_config(PAYMENT_OUTAGE, api_spec=PAYMENTS_API)
    assert result.valid, result.summary()
    assert result.scenario_name == "payment_outage"
    assert result.strict and result.endpoints_checked
    assert result.endpoint_matches[0].applies_to == ["createPayment"]
    notes = result.normalisation
    assert "scenario_name -> name ('payment_outage')" in notes
    assert (
        "normalised: endpoints[0] -> rules[0] (POST /payments: status 503, delay 200 ms, "
        "the given body, header Retry-After)"
    ) in notes
    assert any(n.startswith("scenario_type 'error_simulation' kept under metadata") for n in notes)
    # accepted but not acted upon by deploying: said, with the call that acts on it
    load = next(n for n in notes if n.startswith("test_parameters kept"))
    assert "not acted upon" in load
    assert "concurrent_users=10, duration=60.0, ramp_up=5.0" in load
    assert "thresholds={'error_rate': 0.05}" in load
    assert any(
        n.startswith("validation_rules[0] (status equals 503) kept: switch_scenario checks")
        for n in notes
    )
    scenario = result.scenario
    assert scenario is not None
    assert scenario["name"] == "payment_outage" and "endpoints" not in scenario
    assert scenario["rules"] == [
        {
            "method": "POST",
            "path": "/payments",
            "status": 503,
            "body": {"error": "unavailable"},
            "headers": {"Retry-After": "5"},
            "delay_ms": 200.0,
        }
    ]
    assert scenario["metadata"] == {"scenario_type": "error_simulation"}
    assert scenario["test_parameters"]["concurrent_users"] == 10
    assert scenario["validation_rules"][0]["expected_value"] == 503
    assert "Normalised from the original MockLoop shape: 1 endpoint(s) -> 1 rule(s)" in (
        result.summary()
    )


def test_a_concrete_path_selects_the_template_it_fits_and_says_so() -> None:
    from mockloop.spec import load_spec

    operations = load_spec(PAYMENTS_API).operations
    scenario = _variant(
        endpoints=[
            {"path": "/payments/42", "method": "get", "response_config": {"status_code": 404}}
        ]
    )
    check = check_scenario(scenario, operations=operations)
    assert check.valid, check.problems
    assert check.normalised is not None
    assert check.normalised["rules"][0]["path"] == "/payments/{paymentId}"
    assert check.matches[0].applies_to == ["getPayment"]
    assert any(
        "endpoints[0].path '/payments/42' is a concrete path" in n and "/payments/{paymentId}" in n
        for n in check.notes
    )


def test_a_scenario_in_mockloop_format_has_no_normalisation_notes() -> None:
    check = check_scenario({"name": "plain", "rules": [{"method": "POST", "path": "/payments"}]})
    assert check.valid and check.notes == []


# -- wrong and mixed shapes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "location", "words"),
    [
        (
            {"rules": [{"path": "/payments", "status": 500}]},
            "endpoints",
            "endpoints (the original shape) and rules (MockLoop's format) are given together",
        ),
        ({"name": "other"}, "scenario_name", "differ: they are the same field"),
        ({"scenario_type": "chaos"}, "scenario_type", "use one of load_testing"),
        ({"endpoints": {"path": "/payments"}}, "endpoints", "must be a list"),
        (
            {"endpoints": [{"path": "/payments", "method": "POST", "status_code": 503}]},
            "endpoints[0].status_code",
            "put status_code, response_time_ms, response_data and headers inside response_config",
        ),
        (
            {
                "endpoints": [
                    {"path": "/payments", "response_config": {"status": 503, "delay_ms": 5}}
                ]
            },
            "endpoints[0].response_config.status",
            "a response_config has status_code, response_time_ms, response_data, headers",
        ),
        (
            {"endpoints": [{"path": "/payments", "response_config": {"status_code": 99}}]},
            "endpoints[0].response_config.status_code",
            "greater than or equal to 100",
        ),
        (
            {"endpoints": [{"method": "POST", "response_config": {}}]},
            "endpoints[0].path",
            "Field required",
        ),
        (
            {"test_parameters": {"users": 10}},
            "test_parameters.users",
            "a test_parameters object has: concurrent_users",
        ),
        (
            {"validation_rules": [{"rule_type": "header", "expected_value": "5"}]},
            "validation_rules[0]",
            "a header rule needs field",
        ),
        (
            {"validation_rules": [{"rule_type": "status", "expected_value": "503"}]},
            "validation_rules[0]",
            "expected_value must be a number",
        ),
    ],
)
def test_wrong_or_mixed_shapes_name_the_field_and_the_fix(
    changes: dict[str, Any], location: str, words: str
) -> None:
    check = check_scenario(_variant(**changes))
    assert not check.valid
    found = {p.location: p.message for p in check.problems}
    assert location in found, found
    assert words in found[location]


def test_rule_problems_are_located_where_the_original_shape_wrote_them(
    client: MockLoopClient,
) -> None:
    scenario = _variant(
        endpoints=[
            {"path": "/payments", "method": "POST", "response_config": {"status_code": 503}},
            {"path": "/refunds", "method": "POST", "response_config": {"status_code": 500}},
        ]
    )
    result = client.validate_scenario_config(scenario, api_spec=PAYMENTS_API)
    assert not result.valid
    problems = _locations(result)
    assert "'/refunds' matches no path of Payments" in problems["endpoints[1].path"]
    # a MockLoop rule given original-shape fields is told where they belong
    mixed = client.validate_scenario_config(
        {"name": "x", "rules": [{"path": "/payments", "response_config": {"status_code": 1}}]},
        check_endpoints=False,
    )
    assert (
        "the original shape's endpoints[] take response_config"
        in (_locations(mixed)["rules[0].response_config"])
    )


# -- deployed, activated, in effect ------------------------------------------------------------


def test_the_original_shape_deploys_and_the_mock_answers_as_it_says(
    client: MockLoopClient, mock: MockServer
) -> None:
    deployed = client.deploy_scenario(
        server_url=mock.business_url, scenario_config=PAYMENT_OUTAGE, activate=True
    )
    assert deployed.scenario_name == "payment_outage" and deployed.active
    assert deployed.rule_count == 1
    assert "Normalised from the original MockLoop shape (1 endpoint(s) -> rules)" in (
        deployed.message
    )
    assert "endpoints[0] -> rules[0] (POST /payments: status 503" in deployed.message
    assert any(n.startswith("test_parameters kept") for n in deployed.normalisation)
    assert deployed.scenario["validation_rules"][0]["rule_type"] == "status"

    answer = httpx.post(f"{mock.business_url}/payments", json={"id": "p1", "amount": 5}, timeout=10)
    assert answer.status_code == 503
    assert answer.json() == {"error": "unavailable"}
    assert answer.headers["retry-after"] == "5"
    # the catalogue stays up
    assert httpx.get(f"{mock.business_url}/payments", timeout=10).status_code == 200

    def outage_record() -> dict[str, Any] | None:
        logs = client.query_mock_logs(
            mock.business_url, method="POST", path_pattern="^/payments$", analyze=False
        )
        return next((r for r in logs.records if r["status"] == 503), None)

    record = wait_for(outage_record, "the POST /payments log record")
    # the delay, as the mock measured it (an asyncio sleep may wake a clock tick early)
    assert record["latency_ms"] + DELAY_TOLERANCE_MS >= 200


def test_switching_to_it_checks_the_validation_rules_on_the_verification_request(
    client: MockLoopClient, mock: MockServer
) -> None:
    scenario = _variant(
        validation_rules=[
            {"rule_type": "status", "condition": "equals", "expected_value": 503},
            {"rule_type": "header", "field": "Retry-After", "condition": "exists"},
            {"rule_type": "body", "field": "error", "expected_value": "unavailable"},
            {"rule_type": "error_rate", "condition": "less_than", "expected_value": 0.05},
        ]
    )
    client.deploy_scenario(mock.business_url, scenario)
    result = client.switch_scenario(mock.business_url, "payment_outage")
    assert result.verified is True, result.summary()
    verification = result.verification
    assert verification is not None
    checks = {c.what: c for c in verification.checks}
    assert checks["validation_rules[0] status equals 503"].ok
    assert checks["validation_rules[1] header Retry-After exists"].observed == "5"
    assert checks["validation_rules[2] body error equals 'unavailable'"].ok
    assert any(n.startswith("validation_rules[3] (error_rate") for n in verification.notes)


def test_a_validation_rule_the_answer_breaks_fails_the_switch(
    client: MockLoopClient, mock: MockServer
) -> None:
    scenario = _variant(
        validation_rules=[{"rule_type": "status", "condition": "equals", "expected_value": 200}]
    )
    client.deploy_scenario(mock.business_url, scenario)
    result = client.switch_scenario(mock.business_url, "payment_outage")
    assert result.verified is False
    assert result.verification is not None
    assert "validation_rules[0] status equals 200 expected 200, observed 503" in (
        result.verification.reason
    )


def test_the_mock_admin_api_takes_the_original_shape_too(mock: MockServer) -> None:
    response = httpx.put(
        f"{mock.admin_url}/api/mock-data/scenarios/payment_outage", json=PAYMENT_OUTAGE, timeout=10
    )
    assert response.status_code == 200, response.text
    scenario = parse_scenario(PAYMENT_OUTAGE)
    assert scenario.rules[0].method == "POST" and scenario.rules[0].status == 503
    assert scenario.metadata == {"scenario_type": "error_simulation"}
    with pytest.raises(ScenarioError, match=r"endpoints: endpoints .* given together"):
        parse_scenario(_variant(rules=[]))


# -- the models and the schema -----------------------------------------------------------------


def test_test_parameters_are_run_load_test_arguments() -> None:
    parameters = TestParameters.model_validate(PAYMENT_OUTAGE["test_parameters"])
    assert parameters.load_test_arguments() == {
        "concurrent_users": 10,
        "duration": 60.0,
        "ramp_up": 5.0,
        "thresholds": {"error_rate": 0.05},
    }


def test_validation_rules_judge_one_answer() -> None:
    rules = [
        ValidationRule(rule_type="status_code", condition="not_equals", expected_value=200),
        ValidationRule(rule_type="response_time", condition="less_than", expected_value=1000),
        ValidationRule(rule_type="body", condition="contains", expected_value="error"),
        ValidationRule(rule_type="header", field="X-Missing", condition="exists"),
        ValidationRule(rule_type="error_rate", condition="less_than", expected_value=0.1),
    ]
    checks, notes = judge_validation_rules(
        rules, 503, {"Retry-After": "5"}, b'{"error": "unavailable"}', 12.5
    )
    assert [c.ok for c in checks] == [True, True, True, False]
    assert checks[3].observed is None
    assert len(notes) == 1 and "error_rate" in notes[0]


def test_the_schema_takes_both_shapes_and_documents_every_field() -> None:
    schema = scenario_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(PAYMENT_OUTAGE))
    assert list(validator.iter_errors(_variant(rules=[])))  # mixed: neither shape
    for name, definition in schema["$defs"].items():
        for field_name, field_schema in definition.get("properties", {}).items():
            assert field_schema.get("description"), f"{name}.{field_name} has no description"
            assert len(field_schema.get("examples", [])) == 1, f"{name}.{field_name}: 1 example"


def test_the_tool_parameter_schema_takes_both_shapes_and_the_metadata_keys() -> None:
    from pydantic import TypeAdapter

    from mockloop.mock.scenarios.schema import SCENARIO_CONFIG_MODELS

    validator = jsonschema.Draft202012Validator(TypeAdapter(SCENARIO_CONFIG_MODELS).json_schema())
    generated = {
        "name": "pets_down",
        "type": "error",
        "test_plan": {"steps": ["GET /pets/1"]},
        "x-owner": "qa",
        "rules": [{"operation": "getPet", "status": 503}],
    }
    assert not list(validator.iter_errors(PAYMENT_OUTAGE))
    assert not list(validator.iter_errors(generated))
    assert list(validator.iter_errors({**generated, "bogus": 1}))
    assert list(validator.iter_errors(_variant(rules=[])))


def test_validation_rule_conditions_never_raise_on_mixed_types() -> None:
    """A `contains` rule with an object, or a comparison with a non-number, is judged (False
    where it cannot hold), never a TypeError out of switch_scenario."""
    from mockloop.mock.scenarios.verify import _compare

    assert _compare("contains", {"error": "unavailable", "code": 7}, {"error": "unavailable"})
    assert not _compare("contains", {"error": "unavailable"}, {"error": "other"})
    assert not _compare("contains", {"error": "unavailable"}, ["error"])
    assert _compare("contains", {"error": "unavailable"}, "error")
    assert _compare("contains", [{"id": 1}], {"id": 1})
    assert not _compare("less_than", 120, "fast")
    assert _compare("greater_than", 503, 499)
