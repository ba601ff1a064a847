"""Insights: what an analysis's figures mean, each read off a figure it cites.

`analyze_test_results(ai_insights=True)` adds an `insights` section. Built here, it is
deterministic: every insight comes from a rule over the analysis's figures (a long latency
tail, errors concentrated in one operation, one operation far slower than the rest, a run
that changed over time, failing plan steps, anomalies seen while a plan ran, the worst
security findings, what was not tested) and quotes the figure as its evidence. With the
client's `llm=` the operation asks the model for more (`mockloop.prompts.insights`), keeping
only insights that cite evidence; the section says which happened. The rules read the
analysis as JSON (what an agent and the model read too), so this module needs nothing of
`analyse`, which holds the section in `AnalysisResult.insights`.
"""

from __future__ import annotations

from statistics import median
from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result

__all__ = ["Insight", "InsightTopic", "InsightsSection", "build_insights"]

InsightTopic = Literal[
    "overall", "latency", "errors", "stability", "functional", "security", "coverage"
]

TAIL_RATIO = 3.0
"""p99 at least this many times p50 is a long tail."""
SLOW_RATIO = 2.0
"""An operation whose p95 is this many times the others' median p95 is the slow one."""
CONCENTRATION = 0.5
"""One operation holding this share of the errors concentrates them."""


class Insight(Result):
    """One thing the figures say, with the figure it rests on."""

    topic: InsightTopic
    title: str
    detail: str
    evidence: str = Field(description="the figure the insight rests on")
    source: Literal["figures", "llm"] = Field(
        default="figures", description="figures: a MockLoop rule; llm: the client's model"
    )


class InsightsSection(Result):
    """The insights of an analysis (analyze_test_results(ai_insights=True))."""

    mode: Literal["deterministic", "llm"] = Field(
        description="deterministic: rules over the figures only; llm: refined by the client's model"
    )
    insights: list[Insight] = Field(default_factory=list)
    note: str = Field(default="", description="how the section was made")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _latency(load: dict[str, Any]) -> list[Insight]:
    found: list[Insight] = []
    latency = load.get("latency") or {}
    p50, p99 = _num(latency.get("p50_ms")), _num(latency.get("p99_ms"))
    if p50 and p99 is not None and p99 / p50 >= TAIL_RATIO:
        found.append(
            Insight(
                topic="latency",
                title="a long latency tail",
                detail=f"1 request in 100 takes {p99 / p50:.1f}x the typical time: queueing, "
                "a slow dependency or occasional delays, not uniform slowness",
                evidence=f"p99 {p99:.0f} ms vs p50 {p50:.0f} ms",
            )
        )
    timed = [op for op in load.get("operations") or [] if _num(op.get("p95_ms")) and op["requests"]]
    if len(timed) >= 2:
        slowest = max(timed, key=lambda op: op["p95_ms"])
        others = median(op["p95_ms"] for op in timed if op is not slowest)
        if others > 0 and slowest["p95_ms"] >= others * SLOW_RATIO:
            found.append(
                Insight(
                    topic="latency",
                    title=f"{slowest['name']} is the slow operation",
                    detail=f"{slowest['method']} {slowest['path']} is "
                    f"{slowest['p95_ms'] / others:.1f}x slower than the other operations: "
                    "tune or cache it first",
                    evidence=f"p95 {slowest['p95_ms']:.0f} ms vs a median p95 of {others:.0f} ms",
                )
            )
    return found


def _errors(load: dict[str, Any]) -> list[Insight]:
    total = int(load.get("errors") or 0)
    worst = max(load.get("operations") or [], key=lambda op: op.get("errors", 0), default=None)
    if total <= 0 or worst is None or not worst.get("errors"):
        return []
    share = worst["errors"] / total
    if share < CONCENTRATION:
        return [
            Insight(
                topic="errors",
                title="errors are spread over the operations",
                detail="no operation holds half the errors: look at what they share (the "
                "server, auth, a scenario rule) rather than at one endpoint",
                evidence=f"{total} errors; the most failing, {worst['name']}, has "
                f"{worst['errors']}",
            )
        ]
    return [
        Insight(
            topic="errors",
            title=f"errors concentrate in {worst['name']}",
            detail=f"{share:.0%} of the errors come from {worst['method']} {worst['path']} "
            f"(statuses {worst.get('status_counts')}): fix it first",
            evidence=f"{worst['errors']} of {total} errors",
        )
    ]


def _stability(anomalies: list[dict[str, Any]]) -> list[Insight]:
    if not anomalies:
        return []
    kinds: dict[str, int] = {}
    for anomaly in anomalies:
        kinds[anomaly["kind"]] = kinds.get(anomaly["kind"], 0) + 1
    first = anomalies[0]
    return [
        Insight(
            topic="stability",
            title="the run changed over time",
            detail="some seconds behaved unlike the rest of the run ("
            + ", ".join(f"{n} {kind}" for kind, n in kinds.items())
            + "): look for what happened then (warm-up, a scenario switch, GC, a neighbour)",
            evidence=f"{first['kind']} in seconds {first['start_second']}-"
            f"{first['end_second']}: {first['metric']} {first['peak']:g} vs baseline "
            f"{first['baseline']:g}",
        )
    ]


def _functional(functional: dict[str, Any] | None) -> list[Insight]:
    if not functional or not functional.get("steps"):
        return []
    failing: dict[str, int] = functional.get("failing_operations") or {}
    if not failing:
        return [
            Insight(
                topic="functional",
                title="every plan step passed",
                detail="the API answered as the plans expect; widen them (negative cases, a "
                "scenario) to learn more",
                evidence=f"{functional['passed']} of {functional['steps']} steps passed",
            )
        ]
    name, count = max(failing.items(), key=lambda item: item[1])
    return [
        Insight(
            topic="functional",
            title=f"{name} is where the plans fail",
            detail=f"{len(failing)} operation(s) have failing steps; {name} the most: read its "
            "failures' assertions first",
            evidence=f"{count} failed or errored step(s) of {functional['steps']}",
        )
    ]


def _monitored(plan_results: list[dict[str, Any]]) -> list[Insight]:
    watched = [
        anomaly
        for plan in plan_results
        for anomaly in (plan.get("monitoring") or {}).get("anomalies") or []
    ]
    if not watched:
        return []
    first = watched[0]
    return [
        Insight(
            topic="stability",
            title="plan steps departed from their run",
            detail=f"monitoring saw {len(watched)} anomal{'y' if len(watched) == 1 else 'ies'} "
            f"while plans ran; the first: {first.get('step')}: {first.get('detail')}",
            evidence=f"{first.get('kind')} at step {first.get('step')}",
        )
    ]


def _security(security: dict[str, Any] | None) -> list[Insight]:
    if not security:
        return []
    found: list[Insight] = []
    by_severity: dict[str, int] = security.get("by_severity") or {}
    severe = {k: v for k, v in by_severity.items() if k in ("critical", "high") and v}
    if severe:
        top = (security.get("top_findings") or [{}])[0]
        found.append(
            Insight(
                topic="security",
                title="severe findings to fix before release",
                detail=f"the worst: {top.get('title', 'see top_findings')} "
                f"({top.get('category', '?')} on {top.get('operation', '?')})",
                evidence=", ".join(f"{n} {sev}" for sev, n in severe.items()),
            )
        )
    untested: list[str] = security.get("categories_not_tested") or []
    if untested:
        found.append(
            Insight(
                topic="coverage",
                title="security categories not tested",
                detail="no probe ran for these, so the findings say nothing about them: "
                + ", ".join(untested),
                evidence=f"{len(untested)} categories not tested",
            )
        )
    return found


def build_insights(
    analysis: dict[str, Any], plan_results: list[dict[str, Any]] | None = None
) -> InsightsSection:
    """The deterministic insights of an analysis (its JSON, `AnalysisResult.model_dump(
    mode="json")`), and of the anomalies monitoring saw in `plan_results` (test plan
    results as JSON)."""
    reasons: list[str] = analysis.get("reasons") or []
    load = analysis.get("load")
    insights = [
        Insight(
            topic="overall",
            title=f"verdict: {analysis.get('verdict')}",
            detail=reasons[0] if reasons else "nothing failed or stood out",
            evidence=f"{len(analysis.get('runs') or [])} run(s) analysed",
        ),
        *(_latency(load) + _errors(load) if load else []),
        *_stability(analysis.get("anomalies") or []),
        *_functional(analysis.get("functional")),
        *_monitored(plan_results or []),
        *_security(analysis.get("security")),
    ]
    return InsightsSection(
        mode="deterministic",
        insights=insights,
        note="rules over the figures; no model configured (MockLoopClient(llm=...) refines them)",
    )
