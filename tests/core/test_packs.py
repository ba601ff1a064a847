"""Scenario packs: the fifteen built in, user packs, application to 36 real-world descriptions,
and deployment to a running mock whose behaviour changes as each pack says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop import ConfigError, MockLoopClient
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.scenarios.check import check_scenario
from mockloop.packs import apply_pack, load_packs
from mockloop.packs.plans import OperationRequests, delay_ceiling_ms
from mockloop.spec import ApiSpec, load_spec
from mockloop.testing.plans.model import parse_plan
from tests.conftest import PETSTORE, REAL_WORLD, needs_real_world

CATEGORIES = {
    "error-simulation": {
        "4xx-client-errors",
        "5xx-server-errors",
        "network-timeouts",
        "rate-limiting",
    },
    "performance": {"load-testing", "stress-testing", "spike-testing", "endurance-testing"},
    "security": {"auth-bypass", "injection-attacks", "xss-attacks", "csrf-attacks"},
    "business-logic": {"edge-cases", "data-validation", "workflow-testing"},
}
PACK_URIS = sorted(
    f"scenario-pack://{category}/{name}" for category, names in CATEGORIES.items() for name in names
)
DESCRIPTIONS = sorted(REAL_WORLD.glob("*.json"))
AUTH = {"Authorization": "Bearer mockloop-test"}


@cache
def _spec(path: str) -> ApiSpec:
    return load_spec(path)


@cache
def _packs() -> Any:
    return load_packs(include_user=False)


# -- the packs ----------------------------------------------------------------------------------


def test_fifteen_packs_with_real_content() -> None:
    with MockLoopClient() as client:
        listing = client.list_scenario_packs()
    assert [p.uri for p in listing.packs] == PACK_URIS
    assert listing.invalid == []
    for summary in listing.packs:
        assert summary.origin == "builtin" and summary.scenarios
    by_uri = {p.uri: p for p in listing.packs}
    assert by_uri["scenario-pack://security/xss-attacks"].payload_lists["xss"] >= 10
    assert by_uri["scenario-pack://security/injection-attacks"].payload_lists["sql"] >= 5
    assert all(
        by_uri[f"scenario-pack://performance/{n}"].has_load_profile
        for n in CATEGORIES["performance"]
    )
    assert "15 scenario pack(s)" in listing.summary()


def test_get_one_pack_and_unknown_uris() -> None:
    with MockLoopClient() as client:
        detail = client.get_scenario_pack("scenario-pack://performance/spike-testing")
        assert detail.pack["load_profile"]["concurrent_users"] == 300
        assert len(detail.pack["load_profile"]["stages"]) == 3
        same = client.get_scenario_pack("performance/spike-testing")
        assert same.uri == detail.uri
        with pytest.raises(ConfigError, match="known packs: scenario-pack://"):
            client.get_scenario_pack("scenario-pack://security/ddos")
        with pytest.raises(ConfigError, match="CATEGORY/NAME"):
            client.get_scenario_pack("xss")
        with pytest.raises(ConfigError, match="category"):
            client.list_scenario_packs(category="chaos")
        only = client.list_scenario_packs(category="security")
    assert {p.name for p in only.packs} == CATEGORIES["security"]


USER_PACK = """
name: teapot
category: error-simulation
title: Teapot
description: Every read answers 418.
scenarios:
  - name: always-teapot
    description: Reads answer 418 I'm a teapot.
    rules:
      - select: [{methods: [GET], limit: 2}]
        status: 418
        body_from: {kind: problem, title: "I'm a teapot"}
"""


def test_user_packs_load_and_invalid_files_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "packs" / "error-simulation"
    folder.mkdir(parents=True)
    (folder / "teapot.yaml").write_text(USER_PACK, encoding="utf-8")
    (folder / "broken.yaml").write_text(
        USER_PACK.replace("teapot", "broken").replace("status: 418", "status: 999"),
        encoding="utf-8",
    )
    (folder / "unreadable.yaml").write_text("name: [unclosed", encoding="utf-8")
    monkeypatch.setenv("MOCKLOOP_PACKS_DIR", str(tmp_path / "packs"))
    with MockLoopClient() as client:
        listing = client.list_scenario_packs()
        applied = client.apply_scenario_pack(
            "scenario-pack://error-simulation/teapot", api_spec=str(PETSTORE)
        )
        with pytest.raises(ConfigError, match="did not validate"):
            client.get_scenario_pack("scenario-pack://error-simulation/broken")
    uris = [p.uri for p in listing.packs]
    assert "scenario-pack://error-simulation/teapot" in uris and len(uris) == 16
    problems = {Path(item.path).name: item.problems for item in listing.invalid}
    assert set(problems) == {"broken.yaml", "unreadable.yaml"}
    assert any("rules.0.status" in p for p in problems["broken.yaml"])
    assert "not valid YAML" in problems["unreadable.yaml"][0]
    [scenario] = list(applied)
    assert [r["status"] for r in scenario["rules"]] == [418, 418]
    assert scenario["rules"][0]["body"]["title"] == "I'm a teapot"


# -- every pack on every real-world description ---------------------------------------------------


@needs_real_world
@pytest.mark.parametrize("path", DESCRIPTIONS, ids=lambda p: p.stem)
def test_every_pack_applies_to_every_real_world_description(path: Path) -> None:
    spec = _spec(str(path))
    requests = OperationRequests(spec)
    for uri in PACK_URIS:
        applied = apply_pack(_packs().get(uri).pack, spec, requests=requests)
        assert applied.invalid == [], (uri, applied.invalid)
        assert applied.scenarios, (uri, applied.notes)
        for scenario in applied.scenarios:
            check = check_scenario(scenario, strict=True, operations=spec.operations)
            assert check.valid, (uri, scenario["name"], [str(p) for p in check.problems])
            assert scenario["source"] == uri
            if "test_plan" in scenario:
                parse_plan(scenario["test_plan"])
    assert len(DESCRIPTIONS) == 36


@needs_real_world
def test_apply_without_deploying_through_the_client() -> None:
    with MockLoopClient() as client:
        applied = client.apply_scenario_pack(
            "scenario-pack://performance/load-testing",
            api_spec=str(REAL_WORLD / "svix.com.json"),
            operations=["list_applications_api_v1_app__get"],
        )
    assert applied.deployed == [] and applied.server_url is None
    scenario = applied.scenarios[0]
    assert [r["operation"] for r in scenario["rules"]] == ["list_applications_api_v1_app__get"]
    profile = scenario["load_profile"]
    assert profile["concurrent_users"] == 20 and profile["thresholds"]["p95_ms"] == 400
    assert profile["endpoints"][0]["path"].startswith("/api/v1/app")
    assert "Svix API" in applied.summary()


# -- deployed to a running mock: behaviour changes as the pack says --------------------------------


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False, auth=True)
    with MockServer(config) as running:
        yield running


def _step_means(scenario: dict[str, Any]) -> dict[str, float]:
    """Mean delay (ms) of each plan step, keyed like the plan names its steps."""
    means: dict[str, float] = {}
    for rule in scenario["rules"]:
        entries = rule.get("sequence") or [rule]
        for index, entry in enumerate(entries[:12]):
            delay = entry.get("delay") or {}
            mean = delay.get("ms") or delay.get("mean_ms") or 0
            if delay.get("distribution") == "uniform":
                mean = (delay["min_ms"] + delay["max_ms"]) / 2
            name = (
                rule["operation"] if len(entries) == 1 else f"{rule['operation']} call {index + 1}"
            )
            means[name] = float(mean or entry.get("delay_ms") or 0)
    return means


def _quick_plan(scenario: dict[str, Any]) -> dict[str, Any] | None:
    """The plan's leading steps whose delays add up to at most 1.5 s (sequences stay in order)."""
    plan = dict(scenario["test_plan"])
    means = _step_means(scenario)
    kept, spent = [], 0.0
    for step in plan["steps"]:
        cost = means.get(step["name"], 0.0)
        if spent + cost > 1500:
            break
        kept.append(step)
        spent += cost
    if not kept:
        return None
    plan["steps"] = kept
    return plan


def _floor_ms(entry: dict[str, Any]) -> float:
    delay = entry.get("delay") or {}
    if delay.get("distribution") == "fixed":
        return float(delay["ms"])
    if delay.get("distribution") == "uniform":
        return float(delay["min_ms"])
    return float(entry.get("delay_ms") or 0)


@pytest.mark.parametrize("uri", PACK_URIS, ids=lambda u: u.split("//")[1])
def test_every_pack_deploys_and_changes_the_mock(mock: MockServer, uri: str) -> None:
    runtime = mock.runtime
    observed = 0
    with MockLoopClient(timeout=30) as client:
        applied = client.apply_scenario_pack(uri, server_url=mock.business_url)
        stored = {s["name"] for s in runtime.list_scenarios()}
        assert set(applied.deployed) == {s["name"] for s in applied.scenarios} <= stored
        for scenario in applied:
            runtime.activate_scenario(scenario["name"])
            first = scenario["rules"][0]
            entry = (first.get("sequence") or [first])[0]
            if _floor_ms(entry) >= 500:
                # A delay past the client's timeout: the answer does not come within 0.3 s.
                op = OperationRequests(_spec(str(PETSTORE))).endpoint(first["operation"], 1)
                assert op is not None
                started = time.perf_counter()
                with pytest.raises(httpx.ReadTimeout):
                    httpx.request(
                        op["method"],
                        mock.business_url + op["path"],
                        headers={**AUTH, **op.get("headers", {})},
                        json=op.get("body"),
                        timeout=httpx.Timeout(5.0, read=0.3),
                    )
                assert time.perf_counter() - started >= 0.3
                observed += 1
                continue
            plan = _quick_plan(scenario)
            if plan is None:
                continue
            runtime.activate_scenario(scenario["name"])  # sequences start again
            result = client.execute_test_plan(server_url=mock.business_url, test_plan=plan)
            failures = [(s.name, s.reason) for s in result.steps if s.status != "passed"]
            assert result.status == "passed", (scenario["name"], failures)
            observed += 1
        runtime.deactivate_scenario()
    assert observed >= 1


def _activate(mock: MockServer, client: MockLoopClient, uri: str, template: str) -> str:
    """Deploy one scenario of a pack, made for the petstore, and make it active."""
    applied = apply_pack(_packs().get(uri).pack, _spec(str(PETSTORE)), templates=[template])
    [scenario] = applied.scenarios
    deployed = client.deploy_scenario(mock.business_url, scenario, activate=True)
    assert deployed.active
    return deployed.scenario_name


def test_packs_do_what_they_say_on_the_wire(mock: MockServer) -> None:
    base = mock.business_url
    with MockLoopClient(timeout=30) as client, httpx.Client(base_url=base, headers=AUTH) as http:
        _activate(mock, client, "scenario-pack://error-simulation/rate-limiting", "burst-limit")
        statuses = [http.get("/pets").status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429, 200]
        runtime_headers = http.get("/pets").headers
        assert runtime_headers["RateLimit-Limit"] == "5"

        _activate(mock, client, "scenario-pack://error-simulation/rate-limiting", "burst-limit")
        for _ in range(5):
            http.get("/pets")
        blocked = http.get("/pets")
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "1"
        assert blocked.json()["title"] == "Too Many Requests"

        _activate(mock, client, "scenario-pack://error-simulation/5xx-server-errors", "flaky-5xx")
        mix = [http.get("/pets").status_code for _ in range(10)]
        assert sorted(mix) == [200] * 7 + [500, 502, 503]

        _activate(mock, client, "scenario-pack://security/auth-bypass", "expired-token")
        refused = http.get("/pets/1")
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert http.get("/status").status_code == 200  # public: not selected

        _activate(mock, client, "scenario-pack://security/csrf-attacks", "missing-csrf-token")
        write = http.post("/pets", json={"name": "Rex", "tag": "dog"})
        assert write.status_code == 403 and write.json()["code"] == "csrf_token_invalid"
        assert http.get("/pets").status_code == 200

        _activate(mock, client, "scenario-pack://security/xss-attacks", "stored-xss")
        text = http.get("/pets").text
        assert "<script>" in text or "onerror=" in text

        _activate(mock, client, "scenario-pack://security/injection-attacks", "sql-error-leak")
        leak = http.get("/pets")
        assert leak.status_code == 500
        assert any(sign in leak.json()["detail"] for sign in ("SQL", "quoted string"))

        _activate(mock, client, "scenario-pack://business-logic/edge-cases", "empty-collections")
        assert http.get("/pets").json() == []

        _activate(
            mock, client, "scenario-pack://business-logic/workflow-testing", "delete-then-gone"
        )
        assert [http.delete("/pets/3").status_code for _ in range(3)] == [204, 404, 404]

        _activate(mock, client, "scenario-pack://performance/load-testing", "realistic-latency")
        started = time.perf_counter()
        for _ in range(5):
            assert http.get("/pets").status_code == 200
        assert (time.perf_counter() - started) / 5 >= 0.04  # ~80 ms each, never instant

        mock.runtime.deactivate_scenario()


def test_load_profile_runs_with_run_load_test(mock: MockServer) -> None:
    with MockLoopClient(timeout=30) as client:
        applied = client.apply_scenario_pack(
            "scenario-pack://performance/load-testing",
            server_url=mock.business_url,
            operations=["listPets", "getPet"],
        )
        scenario = applied.scenarios[0]
        profile = scenario["load_profile"]
        result = client.run_load_test(
            server_url=mock.business_url,
            scenario_name=scenario["name"],
            duration=0.6,
            concurrent_users=2,
            endpoints=profile["endpoints"],
            thresholds=profile["thresholds"],
        )
    assert result.total_requests > 0
    assert result.latency.p50_ms is not None and result.latency.p50_ms >= 30


def test_timeout_pack_plans_allow_the_delay() -> None:
    spec = _spec(str(PETSTORE))
    applied = apply_pack(
        _packs().get("scenario-pack://error-simulation/network-timeouts").pack, spec
    )
    slow = next(s for s in applied.scenarios if s["name"].endswith("slow-responses"))
    longest = max(delay_ceiling_ms(r.get("delay")) for r in slow["rules"])
    assert longest == 5000
    assert slow["test_plan"]["timeout_s"] >= longest / 1000


def test_apply_activates_the_scenario_it_names(mock: MockServer) -> None:
    with MockLoopClient() as client:
        applied = client.apply_scenario_pack(
            "scenario-pack://error-simulation/5xx-server-errors",
            server_url=mock.business_url,
            operations=["getStatus"],
            activate="internal-errors",
        )
        assert applied.activated == "5xx-server-errors-internal-errors"
        assert mock.runtime.rules.active_scenario == applied.activated
        assert httpx.get(mock.business_url + "/status").status_code == 500
    mock.runtime.deactivate_scenario()


def test_apply_needs_a_target_and_a_known_scenario(mock: MockServer) -> None:
    with MockLoopClient() as client:
        with pytest.raises(ConfigError, match=r"server_url .* or api_spec"):
            client.apply_scenario_pack("scenario-pack://security/xss-attacks")
        with pytest.raises(ConfigError, match=r"activate=.*is not a scenario"):
            client.apply_scenario_pack(
                "scenario-pack://security/xss-attacks",
                server_url=mock.business_url,
                activate="nope",
            )


@needs_real_world
def test_plans_read_no_json_where_the_mock_serves_none() -> None:
    # ip2proxy documents only text/html; Azure's GetEntityTag operations are HEAD.
    for name, operation in [
        ("ip2proxy.com.json", "get"),
        ("azure.com_apimanagement-apimsubscriptions.json", "Subscription_GetEntityTag"),
    ]:
        spec = _spec(str(REAL_WORLD / name))
        applied = apply_pack(
            _packs().get("scenario-pack://security/xss-attacks").pack,
            spec,
            operations=[operation],
            templates=["stored-xss"],
        )
        [scenario] = applied.scenarios
        assert "body" in scenario["rules"][0]
        assert all("jsonpath" not in step["expect"] for step in scenario["test_plan"]["steps"])
