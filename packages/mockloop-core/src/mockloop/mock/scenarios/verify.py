"""Confirming a switched scenario with one real request: which request, and what it must show.

`plan_verification` picks the rule and operation one request can confirm (the first rule, in
order, whose answer is deterministic and observable, on an operation that rule really answers:
no response override or earlier rule takes it), and says what the answer must be: the status,
the headers and body the rule sets, and a delay floor. `judge` compares a real response with
that, check by check.

What cannot be confirmed is said, never guessed: an `error_rate` between 0 and 1 answers at
random, a normal or exponential delay has no floor, `generate: true` cannot be told from the
description's own data in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, Field

from mockloop.errors import ScenarioError
from mockloop.mock.scenarios.endpoints import response_for
from mockloop.mock.scenarios.original import ValidationRule
from mockloop.mock.scenarios.rules import ResponseSpec, Scenario, ScenarioRule, parse_rule
from mockloop.spec.model import Operation

__all__ = [
    "DELAY_TOLERANCE_MS",
    "MISSING_EXAMPLE",
    "ProbeRequest",
    "VerificationCheck",
    "VerificationPlan",
    "judge",
    "judge_validation_rules",
    "override_rules",
    "plan_verification",
]

MISSING_EXAMPLE = "<no such example in the mock's description>"

# asyncio may wake a sleeper up to a clock tick early; a floor is checked with this slack.
DELAY_TOLERANCE_MS = 2.0


@dataclass
class ProbeRequest:
    """A concrete request for one operation: method, target (path and query), headers, body."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


class VerificationCheck(BaseModel):
    """One comparison between what the rule says and what the mock answered."""

    what: str = Field(description='"status", "header X-Name", "body", "example", "delay"')
    expected: Any
    observed: Any
    ok: bool


@dataclass
class VerificationPlan:
    """The request to send and what its answer must show."""

    rule_location: str
    operation: Operation
    answer: str
    request: ProbeRequest
    expected_status: int
    status_source: str
    expected_headers: dict[str, str]
    expected_body: tuple[bool, Any]
    expected_example: tuple[str, Any] | None
    min_delay_ms: float | None
    distinguishing: bool
    uses_sequence: bool
    notes: list[str] = field(default_factory=list)


def override_rules(overrides: Mapping[str, Any]) -> list[ScenarioRule]:
    """The mock's response overrides (`{key: rule}` from its admin API) as rules.

    A key is an operationId, `METHOD /path/template` or `/path/template`, as the mock reads it.
    """
    rules = []
    for key, config in overrides.items():
        if not isinstance(config, Mapping):
            continue
        method, _, path = key.partition(" ")
        if path.startswith("/"):
            selector: dict[str, Any] = {"method": method, "path": path}
        elif key.startswith("/"):
            selector = {"path": key}
        else:
            selector = {"operation": key}
        try:
            rules.append(parse_rule({**config, **selector}))
        except ScenarioError:
            continue  # the mock ignores an override it cannot read, and so do we
    return rules


def _delay_floor(spec: ResponseSpec) -> tuple[float, bool]:
    """(the least delay in ms this response can draw, whether that floor is certain)."""
    if spec.delay is not None:
        delay = spec.delay
        if delay.distribution == "fixed":
            return delay.ms or 0.0, True
        if delay.distribution == "uniform":
            return delay.min_ms or 0.0, True
        return 0.0, False
    return spec.delay_ms or 0.0, True


def _expected_answer(rule: ScenarioRule) -> tuple[ResponseSpec, str] | str:
    """The response the rule gives to the first call after activation, or why none is sure."""
    if 0 < rule.error_rate < 1:
        return (
            f"error_rate {rule.error_rate} answers error_status {rule.error_status} at random; "
            "one request cannot confirm it"
        )
    if rule.error_rate >= 1:
        error = ResponseSpec(status=rule.error_status, body=rule.error_body)
        error.has_body = rule.error_body is not None
        return error, f"error_status {rule.error_status} (error_rate 1)"
    if rule.sequence:
        # Activation restarts every sequence, so the first call gets the first entry.
        return rule.sequence[0], "sequence[0]"
    return rule, "the rule"


def _example_value(op: Operation, status_key: str, name: str) -> tuple[bool, Any]:
    response = response_for(op, status_key)
    for media in (response.content if response else {}).values():
        for example in media.examples:
            if example.name == name:
                return True, example.value
    return False, None


def _plan_for(
    rule: ScenarioRule,
    index: int,
    op: Operation,
    request: ProbeRequest,
) -> VerificationPlan | str:
    from mockloop.mock.responder import default_status, status_number

    where = f"rules[{index}]"
    expected = _expected_answer(rule)
    if isinstance(expected, str):
        return f"{where}: {expected}"
    answer, label = expected
    notes: list[str] = []
    default = status_number(default_status(op))
    if answer.status is not None:
        status, source = answer.status, f"{where} ({label})"
    else:
        status, source = default, f"the documented default of {op.operation_id}"
    floor, certain = _delay_floor(answer)
    if answer is not rule and certain and floor == 0:
        floor, certain = _delay_floor(rule)  # no own delay: the rule's delay applies
    min_delay: float | None = floor if certain else None
    if not certain:
        notes.append(f"{where}: a random delay has no guaranteed floor; the delay is not checked")
    example = None
    if answer.example is not None and not answer.has_body:
        key = str(answer.status) if answer.status is not None else default_status(op)
        found, value = _example_value(op, key, answer.example)
        # A name the description lacks is still checked: the mock answers 422 for it.
        example = (answer.example, value if found else MISSING_EXAMPLE)
    observable = bool(answer.headers or answer.has_body or example or (min_delay and min_delay > 0))
    distinguishing = observable or (answer.status is not None and status != default)
    if not distinguishing and answer.status is None:
        return (
            f"{where} sets nothing one request can observe on {op.operation_id} (no status, "
            "header, body, example or fixed delay)"
        )
    if not distinguishing:
        notes.append(
            f"{op.operation_id} answers {status} without the scenario too: the check confirms "
            "the rule's status but cannot tell the scenario from no scenario"
        )
    if answer.generate and not answer.has_body:
        notes.append(f"{where}: generated data cannot be told apart in one call; not checked")
    templated = getattr(answer, "templated", False)
    if templated:
        notes.append(f"{where}: its body and headers are rendered per request; not compared")
    return VerificationPlan(
        rule_location=where,
        operation=op,
        answer=label,
        request=request,
        expected_status=status,
        status_source=source,
        expected_headers={} if templated else dict(answer.headers),
        expected_body=(False, None) if templated else (answer.has_body, answer.body),
        expected_example=example,
        min_delay_ms=min_delay,
        distinguishing=distinguishing,
        uses_sequence=bool(rule.sequence) and rule.error_rate < 1,
        notes=notes,
    )


def _preference(op: Operation) -> tuple[int, int]:
    """Operations to probe first: plain paths, then safe methods, then no request body."""
    method = op.method.upper()
    return (
        0 if "#" not in op.path and "?" not in op.path else 1,
        0 if method in ("GET", "HEAD") else 1 if op.request_body is None else 2,
    )


def plan_verification(
    scenario: Scenario,
    operations: list[Operation],
    overrides: list[ScenarioRule],
    build_request: Callable[[Operation], ProbeRequest | None],
) -> tuple[VerificationPlan | None, list[str]]:
    """The best request to confirm the scenario, and notes on every rule passed over.

    Rules are tried in order; a rule that changes what is observed (a status other than the
    default, a header, a body, an example, a fixed delay) wins over one that only repeats the
    description's default status. None, with the reasons, when no rule can be confirmed.
    """
    ordered: list[ScenarioRule] = [*overrides, *scenario.rules]
    answered_by: dict[str, int] = {}
    override_count = len(overrides)
    for op in operations:
        # A rule with `when` answers only the requests it matches: not every one.
        chosen = next(
            (i for i, rule in enumerate(ordered) if rule.selects(op) and rule.when is None), None
        )
        if chosen is not None:
            answered_by[op.operation_id] = chosen - override_count
    notes: list[str] = []
    weak: VerificationPlan | None = None
    if not scenario.rules:
        return None, ["the scenario has no rules"]
    for index, rule in enumerate(scenario.rules):
        if rule.when is not None:
            notes.append(
                f"rules[{index}]: answers only requests that pass its `when`; the verification "
                "request is built from the description, so it is not used to check this rule"
            )
            continue
        selected = [op for op in operations if rule.selects(op)]
        mine = [op for op in selected if answered_by.get(op.operation_id) == index]
        taken = [op for op in selected if answered_by.get(op.operation_id, 0) < 0]
        if taken and not mine:
            notes.append(
                f"rules[{index}]: a response override answers "
                + ", ".join(op.operation_id for op in taken)
                + " first"
            )
        if not mine:
            if selected and not taken:
                notes.append(f"rules[{index}]: earlier rules answer every operation it selects")
            elif not selected:
                notes.append(f"rules[{index}]: selects no operation of the mock")
            continue
        reason = ""
        for op in sorted(mine, key=_preference):
            request = build_request(op)
            if request is None:
                reason = f"rules[{index}]: no request can be built for {op.operation_id}"
                continue
            plan = _plan_for(rule, index, op, request)
            if isinstance(plan, str):
                reason = plan
                break  # the reason is the rule's, not the operation's
            if plan.distinguishing:
                return plan, notes
            weak, reason = weak or plan, ""
            break
        if reason:
            notes.append(reason)
    if weak is not None:
        return weak, notes
    return None, notes


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _parsed(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def _excerpt(value: Any, limit: int = 300) -> Any:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return value if len(text) <= limit else text[: limit - 3] + "..."


def judge(
    plan: VerificationPlan,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    elapsed_ms: float,
) -> list[VerificationCheck]:
    """Every check of the plan against the answer the mock gave."""
    from mockloop.mock.responder import encode_body

    checks = [
        VerificationCheck(
            what="status",
            expected=plan.expected_status,
            observed=status,
            ok=status == plan.expected_status,
        )
    ]
    for name, value in plan.expected_headers.items():
        seen = _header(headers, name)
        checks.append(
            VerificationCheck(
                what=f"header {name}", expected=value, observed=seen, ok=seen == value
            )
        )
    has_body, expected_body = plan.expected_body
    if has_body:
        media = _header(headers, "content-type") or "application/json"
        same = encode_body(expected_body, media) == body
        observed = _parsed(body)
        checks.append(
            VerificationCheck(
                what="body",
                expected=_excerpt(expected_body),
                observed=_excerpt(observed),
                ok=same or observed == expected_body,
            )
        )
    if plan.expected_example is not None:
        name, value = plan.expected_example
        observed = _parsed(body)
        checks.append(
            VerificationCheck(
                what=f"example {name}",
                expected=_excerpt(value),
                observed=_excerpt(observed),
                ok=value != MISSING_EXAMPLE and observed == value,
            )
        )
    if plan.min_delay_ms:
        checks.append(
            VerificationCheck(
                what="delay",
                expected=f">= {plan.min_delay_ms:g} ms",
                observed=f"{elapsed_ms:.1f} ms",
                ok=elapsed_ms + DELAY_TOLERANCE_MS >= plan.min_delay_ms,
            )
        )
    return checks


def _compare(condition: str, observed: Any, expected: Any) -> bool:
    if condition == "equals":
        return observed == expected
    if condition == "not_equals":
        return observed != expected
    if condition == "contains":
        if isinstance(observed, str):
            return str(expected) in observed
        if isinstance(observed, list):
            return expected in observed  # an item equal to it (dicts and lists compare too)
        if isinstance(observed, dict):
            if isinstance(expected, dict):  # every expected key, with its value
                return all(k in observed and observed[k] == v for k, v in expected.items())
            return isinstance(expected, str) and expected in observed  # a key
        return False
    numbers = (observed, expected)
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        return False
    if condition == "less_than":
        return observed < expected
    return observed > expected  # greater_than


def _body_value(body: bytes, path: str | None) -> tuple[bool, Any]:
    """(found, value) of a dotted key path into a JSON body; the whole body without a path."""
    value = _parsed(body)
    if not path:
        return True, value
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return False, None
    return True, value


def judge_validation_rules(
    rules: list[ValidationRule],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    elapsed_ms: float,
) -> tuple[list[VerificationCheck], list[str]]:
    """The scenario's validation rules against one real answer: a check per rule one request
    can judge, and a note per rule it cannot (error_rate needs many requests)."""
    checks: list[VerificationCheck] = []
    notes: list[str] = []
    for index, rule in enumerate(rules):
        what = f"validation_rules[{index}] {rule.describe()}"
        if rule.rule_type == "error_rate":
            notes.append(
                f"validation_rules[{index}] ({rule.describe()}): one request has no error rate; "
                "not checked (a run_load_test threshold checks it)"
            )
            continue
        found = True
        observed: Any
        if rule.rule_type in {"status", "status_code"}:
            observed = status
        elif rule.rule_type == "response_time":
            observed = round(elapsed_ms, 1)
        elif rule.rule_type == "header":
            observed = _header(headers, rule.field or "")
            found = observed is not None
        else:
            found, observed = _body_value(body, rule.field)
        if rule.condition == "exists":
            ok = found
        else:
            ok = found and _compare(rule.condition, observed, rule.expected_value)
        expected = "present" if rule.condition == "exists" else rule.expected_value
        checks.append(
            VerificationCheck(what=what, expected=expected, observed=_excerpt(observed), ok=ok)
        )
    return checks, notes
