"""The agent flags of the LangChain example, one by one: ai_monitoring's plan monitor,
ai_insights' rules and their refinement by a model, ai_optimization's tuning."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mockloop.prompts.insights import refine_insights
from mockloop.prompts.tuning import MIN_TIMEOUT_S, rule_delay_ms, tune_scenarios
from mockloop.testing.analysis.insights import build_insights
from mockloop.testing.plans.model import StepOutcome
from mockloop.testing.plans.monitor import PlanMonitor


def _step(index: int, ms: float, code: int | None, status: str = "passed") -> StepOutcome:
    return StepOutcome(
        index=index,
        name=f"step{index}",
        operation="listPets",
        status=status,  # type: ignore[arg-type]
        reason="" if status == "passed" else "expected 200",
        response=None if code is None else {"status": code},
        elapsed_ms=ms,
    )


def test_the_monitor_reports_a_slow_step_only_against_a_baseline() -> None:
    monitor = PlanMonitor()
    assert monitor.observe(_step(0, 400.0, 200)) == []  # no baseline yet: not judged
    for index in range(1, 4):
        assert monitor.observe(_step(index, 10.0, 200)) == []
    found = monitor.observe(_step(4, 300.0, 200))
    assert [a.kind for a in found] == ["slow_step"]
    assert found[0].baseline_ms == 10.0 and "the 4 steps before it" in found[0].detail
    assert monitor.observe(_step(5, 40.0, 200)) == []  # 4x the median, but only 30 ms over


def test_the_monitor_reports_server_errors_lost_answers_and_status_changes() -> None:
    monitor = PlanMonitor()
    monitor.observe(_step(0, 5.0, 200))
    assert [a.kind for a in monitor.observe(_step(1, 5.0, 404, "failed"))] == ["status_change"]
    assert [a.kind for a in monitor.observe(_step(2, 5.0, 503, "failed"))] == ["server_error"]
    assert [a.kind for a in monitor.observe(_step(3, 5.0, None, "error"))] == ["no_response"]
    assert monitor.observe(_step(4, 5.0, 404, "failed")) == []  # 4xx was seen before
    section = monitor.section()
    assert section.steps_watched == 5 and len(section.anomalies) == 3
    assert section.summary_text.startswith("3 anomalies in 5 steps: 1 status_change")


def _analysis() -> dict[str, Any]:
    operations = [
        {"name": "listPets", "method": "GET", "path": "/pets", "requests": 90, "errors": 9,
         "p95_ms": 20.0, "status_counts": {"200": 81, "500": 9}},
        {"name": "getPet", "method": "GET", "path": "/pets/{id}", "requests": 90, "errors": 1,
         "p95_ms": 25.0, "status_counts": {"200": 89, "404": 1}},
        {"name": "createPet", "method": "POST", "path": "/pets", "requests": 20, "errors": 0,
         "p95_ms": 400.0, "status_counts": {"201": 20}},
    ]  # fmt: skip
    return {
        "verdict": "warn",
        "reasons": ["10 errors in 200 requests"],
        "runs": [{"run_id": "load-1"}],
        "load": {
            "errors": 10,
            "latency": {"p50_ms": 10.0, "p99_ms": 80.0},
            "operations": operations,
        },
        "anomalies": [],
        "functional": None,
        "security": None,
    }


def test_insights_come_from_rules_over_the_figures_each_with_evidence() -> None:
    plans = [{"monitoring": {"anomalies": [{"step": "s3", "kind": "slow_step", "detail": "x"}]}}]
    section = build_insights(_analysis(), plans)
    assert section.mode == "deterministic"
    titles = [i.title for i in section.insights]
    assert titles == [
        "verdict: warn",
        "a long latency tail",
        "createPet is the slow operation",
        "errors concentrate in listPets",
        "plan steps departed from their run",
    ]
    assert section.insights[1].evidence == "p99 80 ms vs p50 10 ms"
    assert section.insights[3].evidence == "9 of 10 errors"
    assert all(i.source == "figures" for i in section.insights)


def test_a_model_adds_insights_with_evidence_and_its_nonsense_is_dropped() -> None:
    seen: list[list[dict[str, str]]] = []

    def model(messages: list[dict[str, str]]) -> str:
        seen.append(messages)
        return json.dumps(
            {
                "insights": [
                    {"topic": "latency", "title": "writes are slow", "detail": "POSTs",
                     "evidence": "createPet p95 400 ms"},
                    {"topic": "latency", "title": "no evidence", "detail": "d", "evidence": ""},
                    {"topic": "astrology", "title": "t", "detail": "d", "evidence": "e"},
                ]
            }
        )  # fmt: skip

    analysis = _analysis()
    section = asyncio.run(refine_insights(build_insights(analysis), analysis, model))
    assert '"createPet"' in seen[0][1]["content"]
    assert section.mode == "llm"
    added = [i for i in section.insights if i.source == "llm"]
    assert [i.title for i in added] == ["writes are slow"]
    assert "1 insight(s) added, 2 dropped" in section.note


def test_a_failing_model_keeps_the_deterministic_insights() -> None:
    def model(messages: list[dict[str, str]]) -> str:
        raise TimeoutError("the model is away")

    analysis = _analysis()
    section = asyncio.run(refine_insights(build_insights(analysis), analysis, model))
    assert section.mode == "deterministic"
    assert "TimeoutError: the model is away" in section.note
    assert len(section.insights) == 4


def test_rule_delays_read_each_distribution() -> None:
    assert rule_delay_ms({"distribution": "fixed", "ms": 200}) == 200
    assert rule_delay_ms({"distribution": "uniform", "min_ms": 1, "max_ms": 300}) == 300
    assert rule_delay_ms({"distribution": "normal", "mean_ms": 100, "stddev_ms": 20}) == 160
    assert rule_delay_ms({"distribution": "exponential", "mean_ms": 50}) == 150
    assert rule_delay_ms(None) == 0


def test_tuning_fits_plan_timeouts_to_delays_and_weights_load_by_traffic() -> None:
    slow = {
        "name": "slow",
        "rules": [{"operation": "getPet", "delay": {"distribution": "fixed", "ms": 6000}}],
        "test_plan": {"timeout_s": 10, "steps": [{"operation": "getPet"}]},
    }
    fast = {"name": "fast", "rules": [], "test_plan": {"steps": [{"operation": "listPets"}]}}
    load = {
        "name": "load",
        "rules": [{"operation": "listPets", "delay": {"distribution": "fixed", "ms": 100}}],
        "load_profile": {
            "thresholds": {"p95_ms": 50.0, "p99_ms": 80.0},
            "endpoints": [{"name": "listPets", "weight": 8}, {"name": "getPet", "weight": 8}],
        },
    }
    traffic = {"operations": {"listPets": {"count": 40, "p95": 20.0}, "getPet": {"count": 4}}}
    notes = tune_scenarios([slow, fast, load], traffic)
    assert slow["test_plan"]["timeout_s"] == 13  # 2 x 6 s + 1 s
    assert fast["test_plan"]["timeout_s"] == MIN_TIMEOUT_S
    endpoints = load["load_profile"]["endpoints"]  # type: ignore[index]
    assert [e["weight"] for e in endpoints] == [10, 1]
    assert load["load_profile"]["thresholds"]["p95_ms"] == 180  # type: ignore[index]
    assert load["x-optimization"][0].startswith("load_profile weights follow")
    assert len(notes) == 3 and notes[0].startswith("optimized slow: test_plan.timeout_s 10 -> 13")


def test_without_traffic_load_profiles_are_left_as_built() -> None:
    load = {
        "name": "load",
        "rules": [],
        "load_profile": {"endpoints": [{"name": "a", "weight": 8}]},
    }
    assert tune_scenarios([load], None) == []
    assert load["load_profile"]["endpoints"][0]["weight"] == 8  # type: ignore[index]
