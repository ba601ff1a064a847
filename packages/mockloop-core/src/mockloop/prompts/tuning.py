"""Tune generated scenarios for the run ahead (generate_scenario_config(ai_optimization=True)).

Deterministic, from what is known before the run:

- the delays the scenario's own rules inject (and, when `api_spec` is a running mock, the
  latency its request log measured per operation): a test plan's `timeout_s` becomes twice
  the slowest answer it should wait for plus a second, and at least `MIN_TIMEOUT_S`: slow
  steps are judged on their assertions instead of timing out, and a step of a fast scenario
  that hangs fails in seconds instead of the default ten;
- the traffic the running mock saw: a load profile's endpoint weights follow it (hot
  operations get the load, in proportion to their share of the requests; operations never
  called keep the lowest weight), and its p95 threshold is raised to what the slowest
  weighted operation can meet (its measured p95 plus the delay the scenario adds, 1.5x).

Each scenario says what was tuned under `x-optimization` (a metadata key deployments keep),
and the result's notes list it. Nothing is invented: without traffic only the delays count.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MIN_TIMEOUT_S",
    "THRESHOLD_MARGIN",
    "TIMEOUT_FACTOR",
    "rule_delay_ms",
    "tune_scenarios",
]

TIMEOUT_FACTOR = 2.0
"""A step waits at least this many times the slowest answer it expects (plus a second)."""
MIN_TIMEOUT_S = 5
"""A tuned step timeout is never below this many seconds."""
THRESHOLD_MARGIN = 1.5
"""A tuned p95 threshold is this factor above the slowest weighted operation's p95."""
_MAX_WEIGHT = 10


def rule_delay_ms(delay: Any) -> float:
    """The longest a rule's delay will usually take (ms): fixed, the uniform maximum, the
    normal mean plus three deviations, or three exponential means."""
    if not isinstance(delay, dict):
        return 0.0
    kind = delay.get("distribution", "fixed")
    if kind == "uniform":
        return float(delay.get("max_ms") or 0.0)
    if kind == "normal":
        return float(delay.get("mean_ms") or 0.0) + 3 * float(delay.get("stddev_ms") or 0.0)
    if kind == "exponential":
        return 3 * float(delay.get("mean_ms") or 0.0)
    return float(delay.get("ms") or 0.0)


def _rules_delay(scenario: dict[str, Any]) -> dict[str, float]:
    delays: dict[str, float] = {}
    for rule in scenario.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        steps = [rule, *[s for s in rule.get("sequence") or [] if isinstance(s, dict)]]
        worst = max(rule_delay_ms(step.get("delay")) for step in steps)
        key = str(rule.get("operation") or "*")
        delays[key] = max(delays.get(key, 0.0), worst)
    return delays


def _observed_p99(operations: dict[str, Any], name: str) -> float:
    stats = operations.get(name) or {}
    value = stats.get("p99") or stats.get("p95") or 0.0
    return float(value) if isinstance(value, int | float) else 0.0


def _tune_plan(
    plan: dict[str, Any], added: dict[str, float], operations: dict[str, Any]
) -> str | None:
    names = {str(step.get("operation") or "") for step in plan.get("steps") or []}
    slowest = max(
        (added.get(name, added.get("*", 0.0)) + _observed_p99(operations, name) for name in names),
        default=0.0,
    )
    needed = max(MIN_TIMEOUT_S, math.ceil((slowest * TIMEOUT_FACTOR + 1000.0) / 1000.0))
    current = float(plan.get("timeout_s") or 10)
    if needed == current:
        return None
    plan["timeout_s"] = needed
    return f"test_plan.timeout_s {current:g} -> {needed} (slowest expected answer {slowest:.0f} ms)"


def _tune_profile(
    profile: dict[str, Any], added: dict[str, float], operations: dict[str, Any]
) -> list[str]:
    endpoints = [e for e in profile.get("endpoints") or [] if isinstance(e, dict)]
    counts = {
        str(e.get("name")): int((operations.get(str(e.get("name"))) or {}).get("count") or 0)
        for e in endpoints
    }
    busiest = max(counts.values(), default=0)
    if busiest <= 0:
        return []
    changes: list[str] = []
    for endpoint in endpoints:
        weight = max(1, round(_MAX_WEIGHT * counts[str(endpoint.get("name"))] / busiest))
        if weight != endpoint.get("weight"):
            endpoint["weight"] = weight
    hot = sorted(counts, key=lambda name: -counts[name])[:3]
    changes.append(
        "load_profile weights follow the mock's traffic (hottest: "
        + ", ".join(f"{name} {counts[name]} requests" for name in hot if counts[name])
        + ")"
    )
    weighted = [name for name, count in counts.items() if count]
    needed_p95 = (
        max(
            (
                ((operations.get(name) or {}).get("p95") or 0.0)
                + added.get(name, added.get("*", 0.0))
                for name in weighted
            ),
            default=0.0,
        )
        * THRESHOLD_MARGIN
    )
    thresholds = profile.get("thresholds")
    if isinstance(thresholds, dict) and needed_p95 > float(thresholds.get("p95_ms") or math.inf):
        before = thresholds["p95_ms"]
        thresholds["p95_ms"] = round(needed_p95)
        if float(thresholds.get("p99_ms") or 0) < thresholds["p95_ms"]:
            thresholds["p99_ms"] = round(needed_p95 * 2)
        changes.append(f"thresholds.p95_ms {before:g} -> {thresholds['p95_ms']} (measured latency)")
    return changes


def tune_scenarios(scenarios: list[dict[str, Any]], traffic: dict[str, Any] | None) -> list[str]:
    """Tune `scenarios` in place for the run (see the module); returns one note per scenario
    tuned. `traffic` is a running mock's request log analysis (`/api/logs/analyze`), if any."""
    operations: dict[str, Any] = (traffic or {}).get("operations") or {}
    notes: list[str] = []
    for scenario in scenarios:
        added = _rules_delay(scenario)
        changes: list[str] = []
        plan = scenario.get("test_plan")
        if isinstance(plan, dict) and (change := _tune_plan(plan, added, operations)):
            changes.append(change)
        profile = scenario.get("load_profile")
        if isinstance(profile, dict) and operations:
            changes.extend(_tune_profile(profile, added, operations))
        if changes:
            scenario["x-optimization"] = changes
            notes.append(f"optimized {scenario.get('name')}: " + "; ".join(changes))
    return notes
