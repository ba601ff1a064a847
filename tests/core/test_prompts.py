"""The five prompts: deterministic results from a description, deployable scenarios whose plans
pass against a mock, MCP messages, and refinement by a (fake) model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.load.thresholds import THRESHOLD_METRICS
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.scenarios.check import check_scenario
from mockloop.security.catalogue import resolve_focus
from mockloop.spec import load_spec
from mockloop.testing.plans.model import parse_plan
from tests.conftest import PETSTORE, REAL_WORLD, needs_real_world

PETSTORE_SPEC = load_spec(str(PETSTORE))

LINKED = {
    "openapi": "3.0.3",
    "info": {"title": "Orders", "version": "1"},
    "paths": {
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "amount": {"type": "number"},
                                    "callback_url": {"type": "string", "format": "uri"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"orderRef": {"type": "string"}},
                                }
                            }
                        },
                        "links": {
                            "GetOrder": {
                                "operationId": "getOrder",
                                "parameters": {"ref": "$response.body#/orderRef"},
                            }
                        },
                    }
                },
            }
        },
        "/orders/{ref}": {
            "get": {
                "operationId": "getOrder",
                "parameters": [
                    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "the order"}},
            }
        },
    },
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False, auth=True)
    with MockServer(config) as running:
        yield running


@pytest.fixture
def client(mock: MockServer) -> Iterator[MockLoopClient]:
    runtime = mock.runtime
    runtime.deactivate_scenario()
    for stored in runtime.list_scenarios():
        runtime.delete_scenario(stored["name"])
    with MockLoopClient(timeout=30) as sync_client:
        yield sync_client


def _run_plan(client: MockLoopClient, mock: MockServer, scenario: dict[str, Any]) -> None:
    """As the seed example does it: deploy (not activated), then run the scenario's plan,
    which activates the scenario for its run and restores the one before."""
    client.deploy_scenario(server_url=mock.business_url, scenario_config=scenario)
    result = client.execute_test_plan(server_url=mock.business_url, test_plan=scenario["test_plan"])
    failures = [(s.name, s.reason) for s in result.steps if s.status != "passed"]
    assert result.status == "passed", (scenario["name"], failures)
    active = httpx.get(f"{mock.admin_url}/api/mock-data/scenarios/active").json()
    assert active.get("active") is None


# -- analyze_openapi_for_testing ---------------------------------------------------------------


def test_analysis_as_the_seed_example_calls_it(client: MockLoopClient, mock: MockServer) -> None:
    scenarios = client.analyze_openapi_for_testing(
        api_spec=str(PETSTORE), analysis_depth="comprehensive", include_security_tests=True
    )
    assert "MockLoop Pet Store" in scenarios["summary"] and "8 operation(s)" in scenarios["summary"]
    assert list(scenarios) == scenarios["scenarios"] and len(scenarios["scenarios"]) >= 12
    assert scenarios.model_dump(mode="json")["summary"] == scenarios.summary  # fields intact
    risks = {r.operation_id: r for r in scenarios.operations}
    assert risks["deletePet"].risk == "high" and "deletes data" in risks["deletePet"].reasons
    assert "API1" in risks["getPet"].owasp
    assert risks["getStatus"].risk == "low"
    assert scenarios.auth.secured_operations == 7 and scenarios.auth.public_operations == [
        "getStatus"
    ]
    pairs = {(d.producer, d.consumer, d.via) for d in scenarios.dependencies}
    assert ("createPet", "getPet", "path") in pairs
    assert scenarios.test_plan is not None and any(
        s.get("kind") == "negative" for s in scenarios.test_plan["steps"]
    )
    assert scenarios.security_tests is not None
    resolve_focus(scenarios.security_tests["security_focus"])
    names = [s["name"] for s in scenarios]
    assert len(names) == len(set(names))
    for scenario in scenarios:
        assert check_scenario(scenario, strict=True, operations=PETSTORE_SPEC.operations).valid
        parse_plan(scenario["test_plan"])
    for scenario in scenarios["scenarios"][:4]:
        deployed = client.deploy_scenario(server_url=mock.business_url, scenario_config=scenario)
        assert deployed.scenario_name == scenario["name"]
    message = scenarios.messages[0]["content"]["text"]
    assert message.startswith("Here is MockLoop's analysis") and "```json" in message
    assert scenarios.refinement is not None and scenarios.refinement.mode == "deterministic"


def test_standard_depth_and_focus_narrow_the_analysis() -> None:
    with MockLoopClient() as client:
        result = client.analyze_openapi_for_testing(
            api_spec=str(PETSTORE), testing_focus=["performance"], include_security_tests=False
        )
        with pytest.raises(ConfigError, match="testing_focus"):
            client.analyze_openapi_for_testing(api_spec=str(PETSTORE), testing_focus=["vibes"])
        with pytest.raises(ConfigError, match="analysis_depth"):
            client.analyze_openapi_for_testing(
                api_spec=str(PETSTORE),
                analysis_depth="deep",  # type: ignore[arg-type]
            )
    assert [s["scenario_type"] for s in result] == ["load"]
    assert result.security_tests is None and result.testing_focus == ["performance"]
    assert result.test_plan is not None
    assert all(s.get("kind", "happy_path") == "happy_path" for s in result.test_plan["steps"])


def test_links_money_and_urls_in_an_inline_description() -> None:
    with MockLoopClient() as client:
        result = client.analyze_openapi_for_testing(api_spec=LINKED)
    [link] = [d for d in result.dependencies if d.via == "link"]
    assert (link.producer, link.consumer, link.field, link.parameter) == (
        "createOrder",
        "getOrder",
        "orderRef",
        "ref",
    )
    create = next(r for r in result.operations if r.operation_id == "createOrder")
    assert {"API6", "API7"} <= set(create.owasp)
    assert any("callback_url" in reason for reason in create.reasons)


@needs_real_world
@pytest.mark.parametrize(
    "name", ["svix.com.json", "amazonaws.com_monitoring.json", "gov.bc.ca_geomark.json"]
)
def test_analysis_of_real_world_descriptions(name: str) -> None:
    with MockLoopClient() as client:
        result = client.analyze_openapi_for_testing(
            api_spec=str(REAL_WORLD / name), analysis_depth="comprehensive"
        )
    spec = load_spec(str(REAL_WORLD / name))
    assert len(result.operations) == len(spec.operations)
    assert result.scenarios
    for scenario in result:
        assert check_scenario(scenario, strict=True, operations=spec.operations).valid
    assert len(result.messages[0]["content"]["text"]) < 60_000


# -- generate_scenario_config ------------------------------------------------------------------


def test_generated_scenarios_from_a_running_mock_pass_their_plans(
    client: MockLoopClient, mock: MockServer
) -> None:
    generated = client.generate_scenario_config(
        api_spec=mock.business_url,
        scenario_types=["load", "error", "security"],
        ai_optimization=True,
    )
    assert generated.api is not None and generated.api["title"] == "MockLoop Pet Store"
    assert generated.refinement is not None and "no llm" in generated.refinement.note
    kinds = {s["scenario_type"] for s in generated}
    assert kinds == {"load", "error", "security"}
    for scenario in generated:
        assert scenario["name"] and scenario["test_plan"]["steps"]
        _run_plan(client, mock, scenario)


def test_scenario_name_endpoints_and_test_parameters() -> None:
    with MockLoopClient() as client:
        one = client.generate_scenario_config(
            api_spec=str(PETSTORE),
            scenario_type="stress",
            endpoints=["listPets", "GET /pets/{petId}"],
            test_parameters={"concurrent_users": 7, "duration": 5, "error_rate": 0.5},
            scenario_name="my_stress",
        )
        with pytest.raises(ConfigError, match="unknown scenario type 'chaos'"):
            client.generate_scenario_config(api_spec=str(PETSTORE), scenario_types=["chaos"])
        with pytest.raises(ConfigError, match="test_parameters: unknown key"):
            client.generate_scenario_config(api_spec=str(PETSTORE), test_parameters={"x": 1})
        with pytest.raises(ConfigError, match="give api_spec"):
            client.generate_scenario_config(scenario_types=["load"])
        bare = client.generate_scenario_config(endpoints=["GET /pets"], scenario_types=["errors"])
    [scenario] = list(one)
    assert scenario["name"] == "my_stress"
    assert {r["operation"] for r in scenario["rules"]} == {"listPets", "getPet"}
    assert scenario["load_profile"]["concurrent_users"] == 7
    assert all(r["error_rate"] == 0.5 for r in scenario["rules"])
    assert {s["scenario_type"] for s in bare} == {"client_error", "server_error"}
    for item in bare:
        assert item["rules"][0]["path"] == "/pets" and check_scenario(item, strict=True).valid


# -- optimize_scenario_for_load ------------------------------------------------------------------


def test_load_profile_follows_littles_law_and_runs(
    client: MockLoopClient, mock: MockServer
) -> None:
    base = {
        "name": "slowish_pets",
        "rules": [{"operation": "listPets", "delay": {"distribution": "fixed", "ms": 100}}],
    }
    optimized = client.optimize_scenario_for_load(
        base_scenario=base,
        target_load={"requests_per_second": 200, "duration": 30},
        performance_requirements={"max_response_time_ms": 250, "max_error_rate": 2},
        api_spec=str(PETSTORE),
    )
    profile = optimized.load_profile
    assert profile["target_rps"] == 200
    assert profile["concurrent_users"] == 27  # ceil(200 * 0.105 s * 1.25)
    assert profile["thresholds"] == {"p95_ms": 250.0, "error_rate": 0.02}  # 2 = 2%
    assert profile["endpoints"][0]["path"] == "/pets" and profile["ramp_up"] == 5
    assert any("Little's law" in line for line in optimized.reasoning)
    assert set(profile["thresholds"]) <= set(THRESHOLD_METRICS)
    [tuned] = list(optimized)
    assert tuned["load_profile"] == profile
    client.deploy_scenario(server_url=mock.business_url, scenario_config=tuned)
    run = client.run_load_test(
        server_url=mock.business_url,
        scenario_name=tuned["name"],
        duration=0.5,
        concurrent_users=2,
        ramp_up=0,
        endpoints=profile["endpoints"],
        thresholds=profile["thresholds"],
    )
    assert run.latency.p50_ms is not None and run.latency.p50_ms >= 95


def test_load_profile_for_users_and_patterns() -> None:
    with MockLoopClient() as client:
        spike = client.optimize_scenario_for_load(
            base_scenario="deployed_one", target_load={"users": 100, "pattern": "spike"}
        )
        with pytest.raises(ConfigError, match="target_load"):
            client.optimize_scenario_for_load(base_scenario="x", target_load={"speed": 3})
        with pytest.raises(ConfigError, match="performance_requirements"):
            client.optimize_scenario_for_load(
                base_scenario="x", target_load=5, performance_requirements={"vibe": 1}
            )
    assert spike.load_profile["concurrent_users"] == 100
    assert [s["users"] for s in spike.load_profile["stages"]] == [10, 100, 10]
    assert spike.scenarios == [] and "is a name" in spike.notes[0]


# -- generate_error_scenarios ------------------------------------------------------------------


def test_error_scenarios_fit_each_endpoint_and_pass_their_plans(
    client: MockLoopClient, mock: MockServer
) -> None:
    result = client.generate_error_scenarios(
        api_endpoints=["GET /pets/{petId}", "POST /pets", {"method": "GET", "path": "/pets"}],
        error_types=["4xx", "5xx", "rate_limiting", "malformed"],
        severity_level="critical",
        api_spec=str(PETSTORE),
    )
    by_type = {s["scenario_type"]: s for s in result}
    assert set(by_type) == {"client_error", "server_error", "rate_limit", "malformed_response"}
    statuses = {r["operation"]: r["status"] for r in by_type["client_error"]["rules"]}
    assert statuses == {"getPet": 404, "createPet": 409, "listPets": 400}
    assert all(r["status"] == 503 for r in by_type["server_error"]["rules"])
    for scenario in result:
        _run_plan(client, mock, scenario)


def test_error_scenarios_without_a_description_and_by_severity() -> None:
    with MockLoopClient() as client:
        low = client.generate_error_scenarios(
            api_endpoints=["GET /items/{id}", "DELETE /items/{id}"],
            error_types=["server_error", "timeout"],
            severity_level="low",
        )
        with pytest.raises(ConfigError, match="error_types"):
            client.generate_error_scenarios(api_endpoints=["GET /a"], error_types=["gremlins"])
        with pytest.raises(ConfigError, match="api_endpoints"):
            client.generate_error_scenarios(api_endpoints=["pets please"])
    server, timeout = list(low)
    assert [r["error_rate"] for r in server["rules"]] == [0.05, 0.05]
    assert timeout["rules"][0]["sequence"][0]["delay"]["min_ms"] == 1000
    assert len(timeout["rules"][0]["sequence"]) == 20  # one slow call in twenty
    for scenario in low:
        assert check_scenario(scenario, strict=True).valid
        parse_plan(scenario["test_plan"])


# -- generate_security_test_scenarios ------------------------------------------------------------


def test_security_selection_and_auth_failure_scenarios(
    client: MockLoopClient, mock: MockServer
) -> None:
    result = client.generate_security_test_scenarios(
        api_spec=str(PETSTORE),
        security_focus=["API2", "sqli"],
        compliance_requirements=["pci"],
    )
    arguments = result.run_security_test
    families = arguments["security_focus"]
    assert "authentication" in families and "injection" in families
    assert resolve_focus(families) == families
    assert arguments["compliance_requirements"] == ["PCI-DSS-4.0"]
    assert arguments["api_spec"] == str(PETSTORE)
    left_out = {e["family"]: e["why"] for e in result.not_selected}
    assert "business_flows" in left_out
    reasons = {e["family"]: e["reason"] for e in result.selected}
    assert "7 of 8 operations require credentials" in reasons["authentication"]
    names = [s["name"] for s in result]
    assert "security-expired-token" in names and "security-sql-error-leak" in names
    expired = next(s for s in result if s["name"] == "security-expired-token")
    _run_plan(client, mock, expired)


@needs_real_world
def test_security_selection_for_an_api_without_auth() -> None:
    with MockLoopClient() as client:
        result = client.generate_security_test_scenarios(
            api_spec=str(REAL_WORLD / "gov.bc.ca_geomark.json")
        )
    families = result.run_security_test["security_focus"]
    assert "authentication" not in families and "misconfiguration" in families
    assert not any(s["name"].startswith("security-expired") for s in result)


# -- refinement by a model -----------------------------------------------------------------------


class FakeChatModel:
    """A LangChain-like chat model: invoke(messages) returns an object with .content."""

    model_name = "fake-chat"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.seen: list[list[dict[str, str]]] = []

    def invoke(self, messages: list[dict[str, str]]) -> Any:
        self.seen.append(messages)
        return type("Reply", (), {"content": self.answer})()


ADDED = {
    "name": "llm_slow_owner",
    "description": "getOwner is slow",
    "rules": [{"operation": "getOwner", "delay": {"distribution": "fixed", "ms": 20}}],
}
BROKEN = {"name": "llm_broken", "rules": [{"operation": "getPets", "status": 500}]}


def test_a_model_adds_what_validates_and_the_rest_is_dropped(mock: MockServer) -> None:
    answer = (
        "Here you go:\n```json\n"
        + json.dumps({"scenarios": [ADDED, BROKEN], "notes": ["test owners under load"]})
        + "\n```"
    )
    model = FakeChatModel(answer)
    with MockLoopClient(llm=model, timeout=30) as client:
        result = client.generate_scenario_config(api_spec=str(PETSTORE), scenario_types=["load"])
        added = next(s for s in result if s["name"] == "llm_slow_owner")
        _run_plan(client, mock, added)
    refinement = result.refinement
    assert refinement is not None and refinement.mode == "llm" and refinement.model == "fake-chat"
    assert refinement.added_scenarios == ["llm_slow_owner"]
    assert refinement.added_notes == ["test owners under load"]
    [dropped] = refinement.dropped
    assert dropped["name"] == "llm_broken" and "getPets" in dropped["reasons"][0]
    assert added["source"] == "llm:fake-chat" and added["test_plan"]["steps"]
    system, user = model.seen[0]
    assert system["role"] == "system" and "generate_scenario_config" in system["content"]
    assert json.loads(user["content"])["scenario_types"] == ["load"]
    assert "model: test owners under load" in result.notes
    assert "llm_slow_owner" in result.messages[0]["content"]["text"]


async def test_async_callables_and_failing_models_keep_the_deterministic_result() -> None:
    calls: list[int] = []

    async def model(messages: list[dict[str, str]]) -> str:
        calls.append(len(messages))
        return json.dumps({"notes": ["ok"]})

    def failing(messages: list[dict[str, str]]) -> str:
        raise RuntimeError("quota exceeded")

    client = AsyncMockLoopClient(llm=model)
    result = await client.generate_error_scenarios(api_endpoints=["GET /pets"])
    assert calls == [2] and result.refinement is not None
    assert result.refinement.added_notes == ["ok"]
    client.llm = failing
    kept = await client.generate_error_scenarios(api_endpoints=["GET /pets"])
    assert kept.refinement is not None and "quota exceeded" in (kept.refinement.error or "")
    assert len(kept.scenarios) == 5
    off = await client.generate_error_scenarios(api_endpoints=["GET /pets"], ai_optimization=False)
    assert off.refinement is not None and off.refinement.mode == "deterministic"


def test_an_admin_url_stands_for_its_mock(mock: MockServer) -> None:
    with MockLoopClient() as client:
        result = client.generate_scenario_config(
            api_spec=mock.admin_url, scenario_types=["rate_limit"]
        )
    assert result.api is not None and result.api["title"] == "MockLoop Pet Store"
    assert "messages" not in result.model_dump()  # the messages repeat the result
    assert result.messages and result.messages[0]["role"] == "user"
