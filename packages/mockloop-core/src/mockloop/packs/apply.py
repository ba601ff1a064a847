"""Turn a pack into concrete scenarios for one description, each validated against it.

Per scenario template and rule: the first selector that matches operations of the description
(and not yet taken by an earlier rule of the same scenario) picks them; each picked operation
gets one rule in the format of docs/scenarios.md, with status mixes, rate limits and
schema-derived bodies expanded. Every scenario carries its metadata (type, tags, source,
expected_outcomes, a test_plan expecting what the scenario makes the mock answer and, for
performance packs, a load_profile in run_load_test terms) and is checked with the strict
validator against the description; a scenario that does not validate is reported, never
returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mockloop.mock.scenarios.check import check_scenario
from mockloop.packs.bodies import BodyBuilder, resolve_schema
from mockloop.packs.models import (
    EntryTemplate,
    OperationSelector,
    RuleTemplate,
    ScenarioPack,
)
from mockloop.packs.plans import OperationRequests
from mockloop.spec.model import ApiSpec, Operation

__all__ = ["AppliedPack", "apply_pack", "select_operations"]

_READS = ("GET", "HEAD", "OPTIONS")
_MAX_RULES = 60


@dataclass
class AppliedPack:
    """The concrete scenarios of a pack for one description, and what was left out."""

    scenarios: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)


def _requires_auth(op: Operation) -> bool:
    return bool(op.security) and all(requirement for requirement in op.security)


def _success_json(op: Operation) -> Any:
    for key in [*sorted(k for k in op.responses if k.startswith("2")), "default"]:
        response = op.responses.get(key)
        if response is None:
            continue
        for media, content in response.content.items():
            base = media.split(";", 1)[0].strip().lower()
            if base == "application/json" or base.endswith("+json"):
                return content.schema if content.schema is not None else {}
    return None


def _collection(schema: Any, document: dict[str, Any]) -> bool:
    resolved = resolve_schema(document, schema)
    if not isinstance(resolved, dict):
        return False
    if resolved.get("type") == "array":
        return True
    for prop in (resolved.get("properties") or {}).values():
        prop = resolve_schema(document, prop)
        if isinstance(prop, dict) and prop.get("type") == "array":
            return True
    return False


def _matches(selector: OperationSelector, op: Operation, requests: OperationRequests) -> bool:
    if selector.methods is not None and op.method.upper() not in selector.methods:
        return False
    if selector.secured is not None and _requires_auth(op) != selector.secured:
        return False
    if selector.has_body is not None and (op.request_body is not None) != selector.has_body:
        return False
    has_path = any(p.location == "path" for p in op.parameters)
    if selector.has_path_params is not None and has_path != selector.has_path_params:
        return False
    has_query = any(p.location == "query" for p in op.parameters)
    if selector.has_query_params is not None and has_query != selector.has_query_params:
        return False
    schema = _success_json(op)
    if selector.returns_json is not None and (schema is not None) != selector.returns_json:
        return False
    if selector.returns_collection is None:
        return True
    collection = schema is not None and _collection(schema, requests.spec.document)
    return collection == selector.returns_collection


def select_operations(
    selectors: list[OperationSelector],
    operations: list[Operation],
    requests: OperationRequests,
) -> tuple[list[Operation], int | None]:
    """The operations of the first selector that picks any, and that selector's index."""
    for index, selector in enumerate(selectors):
        picked = [op for op in operations if _matches(selector, op, requests)]
        if picked:
            return picked[: selector.limit] if selector.limit else picked, index
    return [], None


def _mix_sequence(mix: dict[str, int]) -> list[str]:
    """Statuses interleaved by weight (smooth weighted round robin): ok,500,ok,503,..."""
    credit = dict.fromkeys(mix, 0)
    total = sum(mix.values())
    order: list[str] = []
    for _ in range(total):
        for key, weight in mix.items():
            credit[key] += weight
        best = max(credit, key=lambda k: credit[k])
        credit[best] -= total
        order.append(best)
    return order


class _RuleMaker:
    def __init__(self, pack: ScenarioPack, spec: ApiSpec, requests: OperationRequests) -> None:
        self.pack = pack
        self.bodies = BodyBuilder(spec, pack.payloads)
        self.requests = requests

    def entry(self, template: EntryTemplate | RuleTemplate, op: Operation) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if template.status is not None:
            out["status"] = template.status
        if template.headers:
            out["headers"] = dict(template.headers)
        if template.delay is not None:
            out["delay"] = template.delay.model_dump(exclude_none=True)
        elif template.delay_ms is not None:
            out["delay_ms"] = template.delay_ms
        if template.body is not None:
            out["body"] = template.body
        elif template.body_from is not None:
            out["body"] = self.bodies.build(template.body_from, op, template.status)
        return out

    def rule(self, template: RuleTemplate, op: Operation) -> dict[str, Any]:
        rule: dict[str, Any] = {"operation": op.operation_id}
        if template.status_mix is not None:
            # The delay applies to every call; headers and bodies to the error answers only.
            shared = self.entry(
                template.model_copy(update={"status": None, "headers": {}, "body_from": None}),
                op,
            )
            shared.pop("body", None)
            sequence = []
            for key in _mix_sequence(template.status_mix):
                step = dict(shared)
                if key != "ok":
                    status = int(key)
                    step["status"] = status
                    if template.headers:
                        step["headers"] = dict(template.headers)
                    if template.body_from is not None:
                        step["body"] = self.bodies.build(template.body_from, op, status)
                sequence.append(step)
            rule["sequence"] = sequence
            rule["sequence_end"] = "cycle"
            return rule
        if template.rate_limit is not None:
            rule["sequence"] = self._rate_limited(template, op)
            rule["sequence_end"] = template.rate_limit.reset
            return rule
        if template.sequence:
            rule["sequence"] = [self.entry(entry, op) for entry in template.sequence]
            rule["sequence_end"] = template.sequence_end
            if template.delay is not None or template.delay_ms is not None:
                delay = self.entry(template.model_copy(update={"status": None, "body": None}), op)
                for step in rule["sequence"]:
                    if "delay" not in step and "delay_ms" not in step:
                        step.update({k: v for k, v in delay.items() if k.startswith("delay")})
            return rule
        rule.update(self.entry(template, op))
        if template.error_rate:
            rule["error_rate"] = template.error_rate
            rule["error_status"] = template.error_status
            if template.error_body_from is not None:
                rule["error_body"] = self.bodies.build(
                    template.error_body_from, op, template.error_status
                )
        return rule

    def _rate_limited(self, template: RuleTemplate, op: Operation) -> list[dict[str, Any]]:
        limit = template.rate_limit
        assert limit is not None
        sequence: list[dict[str, Any]] = []
        for index in range(limit.allowed):
            remaining = str(limit.allowed - index - 1)
            sequence.append(
                {
                    "headers": {
                        "RateLimit-Limit": str(limit.allowed),
                        "RateLimit-Remaining": remaining,
                        "RateLimit-Reset": str(limit.window_s),
                        **template.headers,
                    }
                }
            )
        blocked: dict[str, Any] = {
            "status": 429,
            "headers": {
                "Retry-After": str(limit.retry_after_s),
                "RateLimit-Limit": str(limit.allowed),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(limit.retry_after_s),
            },
        }
        if template.body_from is not None:
            blocked["body"] = self.bodies.build(template.body_from, op, 429)
        else:
            blocked["body"] = {
                "type": "about:blank",
                "title": "Too Many Requests",
                "status": 429,
                "detail": f"rate limit of {limit.allowed} calls per {limit.window_s} s exceeded; "
                f"retry after {limit.retry_after_s} s",
                "instance": op.path,
            }
        sequence.extend(json.loads(json.dumps(blocked)) for _ in range(limit.blocked))
        return sequence


def _load_profile(
    pack: ScenarioPack, operation_ids: list[str], requests: OperationRequests
) -> dict[str, Any] | None:
    profile = pack.load_profile
    if profile is None:
        return None
    endpoints = []
    for op_id in operation_ids:
        op = requests.operation(op_id)
        if op is None:
            continue
        weight = profile.read_weight if op.method.upper() in _READS else profile.write_weight
        if weight <= 0:
            continue
        entry = requests.endpoint(op_id, weight)
        if entry is not None:
            endpoints.append(entry)
    arguments: dict[str, Any] = {
        "concurrent_users": profile.concurrent_users,
        "duration": profile.duration,
        "ramp_up": profile.ramp_up,
        "think_time": profile.think_time,
        "thresholds": dict(profile.thresholds),
    }
    if profile.target_rps is not None:
        arguments["target_rps"] = profile.target_rps
    if endpoints:
        arguments["endpoints"] = endpoints
    if profile.stages:
        arguments["stages"] = [dict(stage) for stage in profile.stages]
    return arguments


def apply_pack(
    pack: ScenarioPack,
    spec: ApiSpec,
    *,
    requests: OperationRequests | None = None,
    operations: list[str] | None = None,
    name_prefix: str | None = None,
    templates: list[str] | None = None,
    names: dict[str, str] | None = None,
) -> AppliedPack:
    """The pack's scenarios made concrete for `spec`.

    `operations` limits them to those operations, `templates` to those scenario templates;
    `names` gives a template its scenario name (else PREFIX-TEMPLATE).
    """
    requests = requests or OperationRequests(spec)
    maker = _RuleMaker(pack, spec, requests)
    pool = list(spec.operations)
    if operations:
        wanted = set(operations)
        pool = [
            op
            for op in pool
            if op.operation_id in wanted or f"{op.method.upper()} {op.path}" in wanted
        ]
    applied = AppliedPack()
    prefix = name_prefix if name_prefix is not None else pack.name
    for template in pack.scenarios:
        if templates is not None and template.name not in templates:
            continue
        name = f"{prefix}-{template.name}" if prefix else template.name
        name = (names or {}).get(template.name, name)
        rules: list[dict[str, Any]] = []
        taken: set[str] = set()
        for index, rule_template in enumerate(template.rules):
            free = [op for op in pool if op.operation_id not in taken]
            picked, which = select_operations(rule_template.select, free, requests)
            if not picked:
                if free:
                    applied.notes.append(f"{name}: rules[{index}] selects no operation; left out")
                continue
            if which:
                applied.notes.append(
                    f"{name}: rules[{index}] fell back to selector {which} (the preferred "
                    "operations are not in the description)"
                )
            for op in picked[: _MAX_RULES - len(rules)]:
                rules.append(maker.rule(rule_template, op))
                taken.add(op.operation_id)
        if not rules:
            applied.notes.append(f"{name}: no operation to apply it to; left out")
            continue
        scenario: dict[str, Any] = {
            "name": name,
            "description": template.description,
            "rules": rules,
            "type": template.type,
            "tags": sorted({*pack.tags, *template.tags}),
            "source": pack.uri,
            "version": str(pack.version),
            "expected_outcomes": list(template.expected_outcomes),
        }
        if template.notes:
            scenario["notes"] = template.notes
        load = _load_profile(pack, [r["operation"] for r in rules], requests)
        if load is not None:
            scenario["load_profile"] = load
        plan, plan_notes = requests.plan_for(scenario)
        if plan is not None:
            scenario["test_plan"] = plan
        applied.notes.extend(f"{name}: {note}" for note in plan_notes)
        scenario["x-pack"] = {"uri": pack.uri, "scenario": template.name}
        check = check_scenario(
            scenario,
            strict=True,
            operations=spec.operations,
            api_title=spec.title,
            document=spec.document,
        )
        if check.problems:
            applied.invalid.append(
                {"name": name, "problems": [str(problem) for problem in check.problems]}
            )
            continue
        applied.scenarios.append(scenario)
    return applied
