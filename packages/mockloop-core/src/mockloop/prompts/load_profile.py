"""A load profile for a scenario: users or rate, ramp, mix, duration, thresholds, and why.

The latency the scenario itself adds is read from its rules (a fixed delay, the middle of a
uniform one, a normal or exponential mean; tails as p95 estimates), plus a few milliseconds of
service time. Little's law (concurrency = rate x time in system) turns a target rate into users
or users into the rate they can reach; a 25% head-room covers variance. Thresholds come from the
performance requirements (any spelling of p95, max error rate, minimum throughput), else from
the scenario's own latency and error figures.
"""

from __future__ import annotations

import math
from typing import Any

from mockloop.errors import ConfigError
from mockloop.load.thresholds import THRESHOLD_METRICS
from mockloop.packs.plans import OperationRequests
from mockloop.spec.model import ApiSpec

__all__ = ["build_load_profile", "parse_target_load"]

_SERVICE_MS = 5.0
_HEADROOM = 1.25
_READS = ("GET", "HEAD", "OPTIONS")
_REQUIREMENT_KEYS = {
    "p50_ms": ("p50_ms", "median_ms", "p50"),
    "p90_ms": ("p90_ms", "p90"),
    "p95_ms": ("p95_ms", "p95", "max_response_time_ms", "response_time_ms", "latency_ms",
               "max_latency_ms", "response_time_p95"),
    "p99_ms": ("p99_ms", "p99", "response_time_p99"),
    "max_ms": ("max_ms",),
    "mean_ms": ("mean_ms", "avg_response_time_ms", "average_ms"),
    "error_rate": ("error_rate", "max_error_rate", "error_threshold"),
    "min_rps": ("min_rps", "throughput_rps", "min_throughput", "throughput", "requests_per_second"),
}  # fmt: skip
_TARGET_KEYS = {
    "users": ("users", "concurrent_users", "virtual_users", "vus", "max_users"),
    "rps": ("rps", "target_rps", "requests_per_second", "rate"),
    "duration": ("duration", "duration_s", "duration_seconds", "test_duration"),
    "ramp_up": ("ramp_up", "ramp_up_s", "ramp_up_time", "ramp"),
    "pattern": ("pattern", "load_pattern", "type", "profile"),
    "think_time": ("think_time", "think_time_s"),
}


def _pick(source: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in source and source[name] is not None:
            return source[name]
    return None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{what}={value!r} must be a number")
    try:
        number = float(str(value).strip().rstrip("sS").removesuffix("ms").strip())
    except ValueError:
        raise ConfigError(f"{what}={value!r} must be a number") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{what}={value!r} must be a finite number >= 0")
    return number


def parse_target_load(target_load: Any) -> dict[str, Any]:
    """{users, rps, duration, ramp_up, pattern, think_time} from a number (users) or a dict."""
    if isinstance(target_load, int | float) and not isinstance(target_load, bool):
        return {"users": _number(target_load, "target_load")}
    if isinstance(target_load, str):
        return {"users": _number(target_load, "target_load")}
    if not isinstance(target_load, dict) or not target_load:
        raise ConfigError(
            "target_load must be a number of users or an object such as "
            '{"concurrent_users": 100, "duration": 300} or {"requests_per_second": 500}'
        )
    known = {name for names in _TARGET_KEYS.values() for name in names}
    unknown = sorted(set(target_load) - known)
    if unknown:
        raise ConfigError(
            f"target_load: unknown key(s) {unknown}; use users/concurrent_users, rps/target_rps, "
            "duration, ramp_up, pattern (steady, spike, stress, endurance), think_time"
        )
    out: dict[str, Any] = {}
    for key, names in _TARGET_KEYS.items():
        value = _pick(target_load, names)
        if value is None:
            continue
        out[key] = str(value).lower() if key == "pattern" else _number(value, f"target_load.{key}")
    if "users" not in out and "rps" not in out:
        raise ConfigError("target_load needs users (concurrent_users) or rps (target_rps)")
    return out


def parse_requirements(requirements: dict[str, Any] | None) -> dict[str, float]:
    """Thresholds (load/thresholds.py metrics) from performance requirements."""
    if requirements is None:
        return {}
    if not isinstance(requirements, dict):
        raise ConfigError(
            'performance_requirements must be an object such as {"p95_ms": 200, "error_rate": 0.01}'
        )
    known = {name for names in _REQUIREMENT_KEYS.values() for name in names}
    unknown = sorted(set(requirements) - known - set(THRESHOLD_METRICS))
    if unknown:
        raise ConfigError(
            f"performance_requirements: unknown key(s) {unknown}; use "
            f"{', '.join(THRESHOLD_METRICS)} (or max_response_time_ms, max_error_rate, "
            "throughput_rps)"
        )
    out: dict[str, float] = {}
    for metric, names in _REQUIREMENT_KEYS.items():
        value = _pick(requirements, names)
        if value is not None:
            number = _number(value, f"performance_requirements.{metric}")
            if metric == "error_rate" and number > 1:
                number = number / 100.0  # given as a percentage
            out[metric] = number
    return out


def _delay_figures(rule: dict[str, Any]) -> tuple[float, float]:
    """(mean, p95) of the delay a rule or sequence entry adds, in ms."""
    delay = rule.get("delay")
    if isinstance(delay, dict):
        kind = delay.get("distribution", "fixed")
        if kind == "fixed":
            ms = float(delay.get("ms") or 0)
            return ms, ms
        if kind == "uniform":
            low, high = float(delay.get("min_ms") or 0), float(delay.get("max_ms") or 0)
            return (low + high) / 2, low + 0.95 * (high - low)
        mean = float(delay.get("mean_ms") or 0)
        if kind == "normal":
            return mean, mean + 1.645 * float(delay.get("stddev_ms") or 0)
        return mean, 3.0 * mean
    ms = float(rule.get("delay_ms") or 0)
    return ms, ms


def scenario_figures(scenario: dict[str, Any]) -> dict[str, Any]:
    """Mean and p95 delay, and the error share, over the scenario's rules."""
    means, tails, errors = [], [], []
    for rule in scenario.get("rules") or []:
        entries = rule.get("sequence") or [rule]
        figures = [_delay_figures(entry) for entry in entries]
        means.append(sum(f[0] for f in figures) / len(figures))
        tails.append(max(f[1] for f in figures))
        failing = sum(1 for e in entries if int(e.get("status") or 200) >= 400)
        share = failing / len(entries)
        rate = float(rule.get("error_rate") or 0)
        errors.append(rate + (1 - rate) * share)
    count = len(means) or 1
    return {
        "rules": len(means),
        "mean_delay_ms": round(sum(means) / count, 1),
        "p95_delay_ms": round(max(tails, default=0.0), 1),
        "error_share": round(sum(errors) / count, 4),
        "sequences": sum(1 for r in scenario.get("rules") or [] if r.get("sequence")),
    }


def build_load_profile(
    scenario: dict[str, Any],
    target: dict[str, Any],
    requirements: dict[str, float],
    spec: ApiSpec | None,
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """(run_load_test arguments with stages, reasoning lines, the estimates used)."""
    figures = scenario_figures(scenario)
    reasoning: list[str] = []
    latency_s = (figures["mean_delay_ms"] + _SERVICE_MS) / 1000.0
    pattern = str(target.get("pattern") or "steady")
    think = float(target.get("think_time", 0.0))
    reasoning.append(
        f"The scenario's {figures['rules']} rule(s) add {figures['mean_delay_ms']} ms on average "
        f"(p95 about {figures['p95_delay_ms']} ms); with ~{_SERVICE_MS:.0f} ms of service time a "
        f"request spends about {latency_s * 1000:.0f} ms in the system."
    )
    profile: dict[str, Any] = {}
    cycle = latency_s + think
    if "rps" in target:
        rps = target["rps"]
        users = target.get("users") or math.ceil(rps * cycle * _HEADROOM)
        profile["target_rps"] = rps
        profile["concurrent_users"] = max(1, int(users))
        reasoning.append(
            f"Target {rps:g} req/s x {cycle:.3f} s per request (Little's law) needs "
            f"{rps * cycle:.1f} requests in flight; with 25% head-room: "
            f"{profile['concurrent_users']} connections (open model, so a slow server shows in "
            "the tail)."
        )
    else:
        users = max(1, int(target["users"]))
        profile["concurrent_users"] = users
        reachable = users / cycle if cycle > 0 else 0.0
        reasoning.append(
            f"{users} users each waiting ~{cycle:.3f} s per request (latency + think time) can "
            f"send at most {reachable:.0f} req/s (closed model)."
        )
        if "min_rps" in requirements and reachable < requirements["min_rps"]:
            needed = math.ceil(requirements["min_rps"] * cycle * _HEADROOM)
            reasoning.append(
                f"That is below the required {requirements['min_rps']:g} req/s: {needed} users "
                "would be needed; the profile raises the users to that."
            )
            profile["concurrent_users"] = needed
    duration = float(target.get("duration") or _default_duration(pattern))
    profile["duration"] = duration
    ramp = target.get("ramp_up")
    if ramp is None:
        ramp = 5.0 if pattern == "spike" else min(60.0, max(5.0, round(duration * 0.1)))
        reasoning.append(
            f"Ramp-up {ramp:g} s: "
            + (
                "a spike arrives at once."
                if pattern == "spike"
                else "10% of the run (5 to 60 s), so warm-up effects do not count as steady state."
            )
        )
    profile["ramp_up"] = float(ramp)
    profile["think_time"] = think
    thresholds = dict(requirements)
    if "p95_ms" not in thresholds and "p99_ms" not in thresholds:
        thresholds["p95_ms"] = round(max(50.0, figures["p95_delay_ms"] * 1.5 + 50.0), 0)
        reasoning.append(
            f"No latency requirement given: p95 <= {thresholds['p95_ms']:g} ms, 1.5x the "
            "scenario's own p95 delay plus 50 ms."
        )
    if "error_rate" not in thresholds:
        thresholds["error_rate"] = round(min(1.0, figures["error_share"] * 1.2 + 0.01), 4)
        reasoning.append(
            f"The scenario itself fails {figures['error_share'] * 100:.1f}% of calls: error "
            f"rate <= {thresholds['error_rate'] * 100:.1f}%."
        )
    profile["thresholds"] = thresholds
    stages = _stages(pattern, profile["concurrent_users"], duration)
    if stages:
        profile["stages"] = stages
        reasoning.append(
            f"Pattern {pattern}: {len(stages)} stage(s); run_load_test runs one stage per call."
        )
    if figures["sequences"]:
        reasoning.append(
            f"{figures['sequences']} rule(s) answer from sequences, which all users share: under "
            "load each user sees only part of a sequence (a rate limit trips for the whole "
            "load, not per user)."
        )
    endpoints = _endpoints(scenario, spec)
    if endpoints:
        profile["endpoints"] = endpoints
        reads = sum(1 for e in endpoints if e["method"] in _READS)
        reasoning.append(
            f"Mix: {len(endpoints)} operation(s) of the scenario, {reads} read(s) weighted 4 "
            "and writes weighted 1 (read-heavy, as most APIs)."
        )
    else:
        reasoning.append(
            "Mix: left to run_load_test: with scenario_name it loads the operations the "
            "scenario's rules select on the mock."
        )
    estimates = {
        **figures,
        "time_in_system_ms": round(latency_s * 1000, 1),
        "expected_rps": round(profile["concurrent_users"] / cycle, 1) if cycle else None,
    }
    return profile, reasoning, estimates


def _default_duration(pattern: str) -> float:
    return {"endurance": 3600.0, "soak": 3600.0, "stress": 300.0, "spike": 120.0}.get(pattern, 60.0)


def _stages(pattern: str, users: int, duration: float) -> list[dict[str, float]]:
    if pattern == "spike":
        base = max(1, users // 10)
        return [
            {"duration": round(duration * 0.25), "users": base},
            {"duration": round(duration * 0.5), "users": users},
            {"duration": round(duration * 0.25), "users": base},
        ]
    if pattern == "stress":
        return [
            {"duration": round(duration / 4), "users": max(1, round(users * share))}
            for share in (0.25, 0.5, 0.75, 1.0)
        ]
    return []


def _endpoints(scenario: dict[str, Any], spec: ApiSpec | None) -> list[dict[str, Any]]:
    if spec is None:
        out = []
        for rule in scenario.get("rules") or []:
            method, path = rule.get("method"), rule.get("path")
            if method and path and "{" not in path and "*" not in path:
                weight = 4 if method.upper() in _READS else 1
                out.append({"method": method.upper(), "path": path, "weight": weight})
        return out
    requests = OperationRequests(spec)
    out = []
    for rule in scenario.get("rules") or []:
        op_id = rule.get("operation")
        if not op_id:
            continue
        op = requests.operation(op_id)
        if op is None:
            continue
        entry = requests.endpoint(op_id, 4 if op.method.upper() in _READS else 1)
        if entry is not None:
            out.append(entry)
    return out
