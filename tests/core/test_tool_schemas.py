"""Every tool's input schema says what to send: typed leaves, models in `$defs`, examples.

The only untyped leaves are the free-form ones `mockloop.catalog.FREE_FORM` lists with a
reason; every published example is accepted by the parser the operation hands it to; and
typing a parameter's schema changed nothing of what the operation receives.
"""

from __future__ import annotations

from typing import Any

import pytest

from mockloop import ConfigError
from mockloop.catalog import FREE_FORM, get_catalog, untyped_leaves
from mockloop.load.mix import LoadEndpoint, templates_from_endpoints
from mockloop.load.thresholds import LoadThresholds, check_thresholds
from mockloop.operations.parameters import (
    OpenApiDocument,
    PerformanceRequirements,
    ScenarioTestParameters,
    TargetLoad,
)
from mockloop.prompts.builders import check_test_parameters
from mockloop.prompts.load_profile import parse_requirements, parse_target_load
from mockloop.proxy.settings import (
    AuthConfig,
    ProxyOptions,
    ProxySettings,
    RoutingRule,
    parse_auth,
    parse_proxy_settings,
    parse_rules,
)
from mockloop.security.identities import SecurityAuth, SecurityPrincipal, parse_identities
from mockloop.spec import load_spec
from mockloop.testing.plans.model import TestPlan, parse_plan
from mockloop.testing.sessions.schedules import (
    NotificationConfig,
    ScheduleConfig,
    TestSuite,
    parse_notification_config,
    parse_schedule_config,
    parse_test_suite,
)

# The models published for parameters by this part of the product (the scenario models are
# checked with the scenario format): each has one example and a description on every field.
OWN_MODELS = {
    "ApiInfo",
    "ApiServer",
    "AuthConfig",
    "CircuitSettings",
    "ComparisonRequest",
    "EndpointSelector",
    "LoadEndpoint",
    "LoadThresholds",
    "NotificationConfig",
    "OpenApiDocument",
    "PerformanceRequirements",
    "ProxyOptions",
    "ResponseOverride",
    "RoutingRule",
    "ScenarioTestParameters",
    "ScheduleConfig",
    "SecurityAuth",
    "SecurityPrincipal",
    "StoredSuite",
    "SuiteTest",
    "TargetLoad",
    "TestPlan",
    "PlanStep",
    "StepRequest",
    "Expectations",
    "HeaderCheck",
    "JsonPathAssertion",
    "Capture",
    "TestRunResult",
    "TestSuite",
}

# Parameters that were bare objects or `{}` before they were typed, and a model now behind
# each (a `$ref` somewhere in the parameter's schema).
TYPED = [
    ("create_mcp_plugin", "auth_config", "AuthConfig"),
    ("create_mcp_plugin", "routing_rules", "RoutingRule"),
    ("create_mcp_plugin", "proxy_config", "ProxyOptions"),
    ("configure_proxy", "routing_rules", "RoutingRule"),
    ("compare_mock_and_live", "requests", "ComparisonRequest"),
    ("execute_test_plan", "test_plan", "TestPlan"),
    ("execute_test_plan", "openapi_spec", "OpenApiDocument"),
    ("save_test_plan", "test_plan", "TestPlan"),
    ("create_test_session", "test_plan", "TestPlan"),
    ("schedule_test_suite", "test_suite", "TestSuite"),
    ("schedule_test_suite", "test_suite", "StoredSuite"),
    ("schedule_test_suite", "schedule_config", "ScheduleConfig"),
    ("schedule_test_suite", "notification_config", "NotificationConfig"),
    ("run_security_test", "auth", "SecurityAuth"),
    ("run_load_test", "endpoints", "LoadEndpoint"),
    ("run_load_test", "thresholds", "LoadThresholds"),
    ("run_load_test", "spec", "OpenApiDocument"),
    ("run_test_iteration", "endpoints", "LoadEndpoint"),
    ("deploy_scenario", "scenario_config", "ScenarioDocument"),
    ("validate_scenario_config", "scenario_config", "OriginalScenario"),
    ("deploy_scenario", "scenario_config", "OriginalScenario"),
    ("validate_scenario_config", "scenario_config", "ScenarioDocument"),
    ("manage_mock_data", "scenario_config", "ScenarioDocument"),
    ("manage_mock_data", "response_data", "ResponseOverride"),
    ("optimize_scenario_for_load", "base_scenario", "ScenarioDocument"),
    ("optimize_scenario_for_load", "target_load", "TargetLoad"),
    ("optimize_scenario_for_load", "performance_requirements", "PerformanceRequirements"),
    ("generate_scenario_config", "test_parameters", "ScenarioTestParameters"),
    ("generate_error_scenarios", "api_endpoints", "EndpointSelector"),
    ("analyze_test_results", "test_results", "TestRunResult"),
    ("compare_test_runs", "baseline_results", "TestRunResult"),
    ("generate_test_report", "test_results", "TestRunResult"),
    ("get_performance_metrics", "test_results", "TestRunResult"),
]


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _example(model: Any) -> Any:
    examples = model.model_json_schema()["examples"]
    assert len(examples) == 1, model.__name__
    return examples[0]


def test_every_untyped_leaf_is_on_the_free_form_list_and_the_list_is_exact() -> None:
    found: dict[str, list[str]] = {}
    for op in get_catalog():
        for leaf in untyped_leaves(op.parameters_schema, op.name):
            found.setdefault(leaf, []).append(op.name)
    unlisted = {leaf: ops for leaf, ops in found.items() if leaf not in FREE_FORM}
    assert unlisted == {}, f"untyped parameter leaves: give them a model or a type: {unlisted}"
    stale = sorted(set(FREE_FORM) - set(found))
    assert stale == [], f"FREE_FORM lists leaves no tool has any more: {stale}"
    assert all(reason.strip() for reason in FREE_FORM.values())


def test_the_walk_finds_what_is_untyped() -> None:
    schema = {
        "$defs": {"M": {"type": "object", "properties": {"x": {}, "y": {"type": "string"}}}},
        "properties": {
            "bare": {"type": "object", "additionalProperties": True},
            "typed": {"type": "object", "additionalProperties": {"type": "number"}},
            "model": {"anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}]},
            "items": {"type": "array", "items": {"type": "object"}},
            "choice": {"enum": ["a", "b"]},
            "empty": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    }
    assert untyped_leaves(schema, "op") == ["op.bare", "M.x", "op.items[]"]


def test_the_once_untyped_parameters_refer_to_their_models() -> None:
    catalog = get_catalog()
    for name, parameter, model in TYPED:
        schema = catalog[name].parameters_schema
        refs = _refs(schema["properties"][parameter])
        assert f"#/$defs/{model}" in refs, (name, parameter, refs)


def test_every_reference_resolves_into_the_root_definitions() -> None:
    for op in get_catalog():
        schema = op.parameters_schema
        definitions = schema.get("$defs", {})
        for ref in _refs(schema):
            assert ref.startswith("#/$defs/"), (op.name, ref)
            assert ref.removeprefix("#/$defs/") in definitions, (op.name, ref)
        for name, definition in definitions.items():
            assert "$defs" not in definition, f"{op.name}: $defs nested in {name}"


def test_published_models_have_one_example_and_describe_every_field() -> None:
    seen: set[str] = set()
    for op in get_catalog():
        for name, definition in op.parameters_schema.get("$defs", {}).items():
            if name not in OWN_MODELS or name in seen:
                continue
            seen.add(name)
            assert definition.get("description"), f"{name} has no description"
            assert len(definition.get("examples", [])) == 1, f"{name}: give one example"
            bare = [
                field
                for field, schema in definition.get("properties", {}).items()
                if not schema.get("description")
            ]
            assert bare == [], f"{name}: fields without a description: {bare}"
    assert seen == OWN_MODELS


def test_no_parameter_description_sends_the_model_to_the_docs() -> None:
    for op in get_catalog():
        for parameter in op.parameters:
            assert "see docs/" not in parameter.description, (op.name, parameter.name)
        assert "see docs/" not in op.description, op.name


def test_every_published_example_is_accepted_by_its_parser() -> None:
    check_thresholds(_example(LoadThresholds))
    assert parse_rules([_example(RoutingRule)])[0].pattern == "/api/critical/*"
    auth = parse_auth(_example(AuthConfig))
    assert auth is not None and auth.auth_type == "api_key"
    assert parse_proxy_settings(_example(ProxySettings)).fallback_to_mock is True
    assert parse_proxy_settings(_example(ProxyOptions)).retries == 1
    assert parse_plan(_example(TestPlan)).name == "pets"
    assert parse_schedule_config(_example(ScheduleConfig)).timing is not None
    assert parse_notification_config(_example(NotificationConfig)) is not None
    users, admin = parse_identities(_example(SecurityAuth))
    assert [u.name for u in users] == ["alice", "bob"] and admin is not None
    single, _ = parse_identities(_example(SecurityPrincipal))
    assert single[0].ids == {"petId": "1"}
    assert templates_from_endpoints([_example(LoadEndpoint)])[0].method == "POST"
    suite = parse_test_suite(_example(TestSuite), get_catalog())
    assert [test.operation for test in suite.tests] == ["execute_test_plan"]
    assert parse_target_load(_example(TargetLoad))["users"] == 50
    assert parse_requirements(_example(PerformanceRequirements))["p95_ms"] == 200
    assert check_test_parameters(_example(ScenarioTestParameters))["duration"] == 60
    spec = load_spec(_example(OpenApiDocument))
    assert [o.operation_id for o in spec.operations] == ["getPet"]


def test_typed_parameters_are_handed_over_as_given() -> None:
    catalog = get_catalog()
    plan = {"name": "p", "steps": [{"operation": "getPet"}], "x-not-in-the-model": 1}
    arguments = catalog["execute_test_plan"].validate_arguments(
        {"server_url": "http://127.0.0.1:8000", "test_plan": plan}
    )
    assert arguments["test_plan"] == plan
    named = catalog["execute_test_plan"].validate_arguments(
        {"server_url": "http://127.0.0.1:8000", "test_plan": "smoke"}
    )
    assert named["test_plan"] == "smoke"
    auth = {"type": "bearer_token", "credentials": {"token": "t"}}  # a synonym the parser reads
    given = catalog["configure_proxy"].validate_arguments({"auth_config": auth})
    assert given["auth_config"] == auth
    body = ["any", {"json": True}]
    data = catalog["manage_mock_data"].validate_arguments(
        {"server_url": "http://127.0.0.1:8000", "operation": "update_response",
         "response_data": body}
    )  # fmt: skip
    assert data["response_data"] == body
    with pytest.raises(ConfigError, match="test_plan"):
        catalog["save_test_plan"].validate_arguments({"name": "p", "test_plan": 5})
