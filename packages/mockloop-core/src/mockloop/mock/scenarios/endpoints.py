"""Scenario rules against an API description: does each rule select an operation, which does
it really answer (the first matching rule wins), and do the statuses and example names it uses
exist there. Findings are reported through a callback as (location, message, severity)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from mockloop.mock.scenarios.matching import when_problems
from mockloop.mock.scenarios.rules import ResponseSpec, ScenarioRule
from mockloop.spec.model import Operation, Response

__all__ = ["RuleMatch", "check_against_description", "did_you_mean", "response_for"]

Add = Callable[[str, str, Literal["error", "warning"]], None]

_SHOWN_NAMES = 12


class RuleMatch(BaseModel):
    """The operations of the description one rule selects, and those it really answers."""

    location: str = Field(description='"rules[0]"')
    selector: str = Field(description="what the rule selects: an operationId or METHOD /path")
    operations: list[str] = Field(description="operationIds the rule selects")
    applies_to: list[str] = Field(
        description="those the rule answers (no earlier rule takes them first)"
    )


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest known word, or nothing."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(parts: tuple[Any, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def response_for(op: Operation, status_key: str) -> Response | None:
    """The documented response the mock uses for a status: exact, then `4XX`, then default."""
    found = op.responses.get(status_key)
    if found is None and status_key.isdigit():
        found = op.responses.get(f"{status_key[0]}XX") or op.responses.get(f"{status_key[0]}xx")
        if found is None:
            found = op.responses.get("default")
    return found


def _names(values: Iterable[str]) -> str:
    listed = list(dict.fromkeys(values))
    shown = ", ".join(listed[:_SHOWN_NAMES])
    return shown + (f", ... ({len(listed)} in all)" if len(listed) > _SHOWN_NAMES else "")


def check_against_description(
    rules: list[tuple[int, ScenarioRule]],
    operations: list[Operation],
    title: str,
    add: Add,
    document: Mapping[str, Any] | None = None,
) -> list[RuleMatch]:
    """Each rule (with its index in the scenario) against the description's operations
    (and, with the description's `document`, body conditions against `$ref`'d body schemas).

    Findings go to `add`; the return value says which operations each rule selects and
    really answers (the first matching rule wins).
    """
    matches: list[RuleMatch] = []
    taken: dict[str, int] = {}
    for index, rule in rules:
        where = f"rules[{index}]"
        selected = [op for op in operations if rule.selects(op)]
        if not selected:
            location, message = _no_match(rule, where, operations, title)
            add(location, message, "error")
            matches.append(
                RuleMatch(location=where, selector=rule.describe(), operations=[], applies_to=[])
            )
            continue
        applies = [op for op in selected if op.operation_id not in taken]
        if rule.when is not None:
            for location, message, severity in when_problems(
                rule.when, applies or selected, document
            ):
                add(f"{where}.when.{location}", message, severity)
        if not applies:
            earlier = sorted({taken[op.operation_id] for op in selected})
            add(
                where,
                "never applies: every operation it selects is answered by an earlier rule ("
                + ", ".join(f"rules[{i}]" for i in earlier)
                + "); the first matching rule wins, so move it up",
                "warning",
            )
        for op in applies:
            if rule.when is None:  # a rule with `when` lets other requests through
                taken[op.operation_id] = index
        matches.append(
            RuleMatch(
                location=where,
                selector=rule.describe(),
                operations=[op.operation_id for op in selected],
                applies_to=[op.operation_id for op in applies],
            )
        )
        _check_responses(rule, index, applies, add)
    return matches


def _no_match(
    rule: ScenarioRule, where: str, operations: list[Operation], title: str
) -> tuple[str, str]:
    ids = [op.operation_id for op in operations]
    if rule.operation is not None:
        found = next((op for op in operations if op.operation_id == rule.operation), None)
        if found is None:
            return (
                f"{where}.operation",
                f"no operation of {title} has operationId {rule.operation!r}"
                f"{did_you_mean(rule.operation, ids)}; operationIds: {_names(ids)}",
            )
        if rule.method is not None and rule.method != found.method.upper():
            return (
                f"{where}.method",
                f"{found.operation_id} is {found.method.upper()} {found.path}, not "
                f"{rule.method}; drop method or fix it",
            )
        return (
            f"{where}.path",
            f"{found.operation_id}'s path is {found.path}, which {rule.path!r} does not match",
        )
    if rule.path is not None:
        on_path = [
            op
            for op in operations
            if op.path == rule.path or fnmatch.fnmatchcase(op.path, rule.path)
        ]
        if not on_path:
            paths = [op.path for op in operations]
            return (
                f"{where}.path",
                f"{rule.path!r} matches no path of {title}{did_you_mean(rule.path, paths)}; "
                f"paths are templates as written (/pets/{{petId}}) or globs (/pets/*): "
                f"{_names(paths)}",
            )
        methods = sorted({op.method.upper() for op in on_path})
        return (
            f"{where}.method",
            f"no {rule.method} operation on {rule.path}; documented there: {', '.join(methods)}",
        )
    methods = sorted({op.method.upper() for op in operations})
    return (
        f"{where}.method",
        f"{title} has no {rule.method} operation; its methods: {', '.join(methods)}",
    )


def _check_responses(rule: ScenarioRule, index: int, ops: list[Operation], add: Add) -> None:
    from mockloop.mock.responder import default_status

    where: tuple[Any, ...] = ("rules", index)
    entries: list[tuple[tuple[Any, ...], ResponseSpec]] = (
        [((*where, "sequence", j), step) for j, step in enumerate(rule.sequence)]
        if rule.sequence
        else [(where, rule)]
    )
    statuses: list[tuple[tuple[Any, ...], int, bool]] = [
        ((*parts, "status"), entry.status, entry.has_body)
        for parts, entry in entries
        if entry.status is not None
    ]
    if rule.error_rate > 0:
        statuses.append(((*where, "error_status"), rule.error_status, rule.error_body is not None))
    for parts, status, has_body in statuses:
        missing = [op.operation_id for op in ops if response_for(op, str(status)) is None]
        if missing:
            served = (
                "the rule's body"
                if has_body
                else ("a problem+json body" if status >= 400 else "an empty body")
            )
            add(
                _dotted(parts),
                f"status {status} is not documented for {_names(missing)}: the mock answers it "
                f"with {served}",
                "warning",
            )
    for parts, entry in entries:
        if entry.example is None or entry.has_body:
            continue
        lacking = []
        for op in ops:
            key = str(entry.status) if entry.status is not None else default_status(op)
            response = response_for(op, key)
            names = [
                ex.name
                for media in (response.content if response else {}).values()
                for ex in media.examples
            ]
            if entry.example not in names:
                lacking.append(f"{op.operation_id} ({key}: {_names(names) or 'no examples'})")
        if lacking:
            add(
                _dotted((*parts, "example")),
                f"no example named {entry.example!r} for "
                + "; ".join(lacking)
                + ": the mock would answer 422 Unknown example",
                "error",
            )
