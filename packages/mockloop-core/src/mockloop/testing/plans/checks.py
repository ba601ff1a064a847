"""The checks a test plan step makes on a response, each an `AssertionOutcome` with evidence.

Status (exact codes or classes like "2XX"), conformance of the body to the description's
schema for the status and media type, response headers, JSONPath assertions, latency, and the
captures that feed later steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import jsonpath
import orjson

from mockloop.spec.model import Operation, Response
from mockloop.spec.validation import SchemaValidator
from mockloop.testing.plans.model import (
    AssertionOutcome,
    Capture,
    HeaderCheck,
    JsonPathAssertion,
    StatusCode,
)

__all__ = [
    "check_headers",
    "check_jsonpath",
    "check_latency",
    "check_schema",
    "check_status",
    "decode_json",
    "take_captures",
]

_MAX_SHOWN = 300
_MISSING = object()


def _shown(value: Any) -> Any:
    """A value small enough to show as evidence."""
    if isinstance(value, str | int | float | bool) or value is None:
        if isinstance(value, str) and len(value) > _MAX_SHOWN:
            return value[:_MAX_SHOWN] + "…"
        return value
    text = orjson.dumps(value, default=str).decode()
    return value if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


def _is_json_media(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def decode_json(response: httpx.Response) -> tuple[Any, bool]:
    """The parsed body and True when the response carries JSON, else (None, False)."""
    if not response.content:
        return None, False
    media = response.headers.get("content-type", "")
    if media and not _is_json_media(media):
        return None, False
    try:
        return orjson.loads(response.content), True
    except orjson.JSONDecodeError:
        return None, False


def _status_matches(expected: StatusCode, actual: int) -> bool:
    if isinstance(expected, int):
        return expected == actual
    text = expected.upper()
    if text.endswith("XX"):
        return str(actual)[0] == text[0]
    return text == str(actual)


def check_status(expected: list[StatusCode], actual: int) -> AssertionOutcome:
    """The status is one of `expected` (codes or classes)."""
    passed = any(_status_matches(item, actual) for item in expected)
    wanted = expected[0] if len(expected) == 1 else expected
    return AssertionOutcome(
        check="status",
        expected=wanted,
        actual=actual,
        passed=passed,
        message="" if passed else f"status: expected {wanted}, got {actual}",
    )


def _documented(op: Operation, status: int) -> Response | None:
    responses = op.responses
    return (
        responses.get(str(status))
        or responses.get(f"{str(status)[0]}XX")
        or responses.get(f"{str(status)[0]}xx")
        or responses.get("default")
    )


def check_schema(
    op: Operation,
    response: httpx.Response,
    body: Any,
    is_json: bool,
    validator: SchemaValidator,
) -> AssertionOutcome | str:
    """The body against the documented schema; a note (str) when there is nothing to check."""
    status = response.status_code
    documented = _documented(op, status)
    if documented is None:
        listed = ", ".join(sorted(op.responses)) or "none"
        return (
            f"status {status} is not documented for {op.operation_id} (documented: {listed}); "
            "the body is not checked against a schema"
        )
    if not documented.content:
        if response.content:
            return f"{op.operation_id} documents no body for {documented.status}; one came"
        return ""
    sent = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    media = _media_for(sent, list(documented.content))
    if media is None:
        listed = ", ".join(documented.content)
        return AssertionOutcome(
            check="schema",
            expected=f"a body of {listed}",
            actual=sent or "no Content-Type",
            passed=False,
            message=f"schema: {op.operation_id} {status} documents {listed}, got "
            f"{sent or 'no Content-Type'}",
        )
    schema = documented.content[media].schema
    if schema is None:
        return f"{op.operation_id} {documented.status} {media} has no schema; nothing to check"
    if not _is_json_media(media):
        return f"{media} bodies are not checked against a schema (JSON only)"
    where = f"{op.operation_id} {documented.status} {media}"
    if not is_json:
        return AssertionOutcome(
            check="schema",
            expected=f"JSON matching the schema of {where}",
            actual="the body is not JSON" if response.content else "no body",
            passed=False,
            message=f"schema: {where} documents JSON, the body is not JSON",
        )
    errors = validator.errors(schema, body, direction="response", limit=5)
    return AssertionOutcome(
        check="schema",
        expected=f"matches the schema of {where}",
        actual=errors or "matches",
        passed=not errors,
        message=f"schema: {errors[0]}" if errors else "",
    )


def _media_for(sent: str, documented: list[str]) -> str | None:
    for media in documented:
        base = media.split(";", 1)[0].strip().lower()
        if base == sent or base == "*/*" or (base.endswith("/*") and sent.startswith(base[:-1])):
            return media
    if _is_json_media(sent):
        return next((m for m in documented if _is_json_media(m)), None)
    return None


def check_headers(
    expected: Mapping[str, str | bool | HeaderCheck], headers: httpx.Headers
) -> list[AssertionOutcome]:
    """Each expected response header: a value to equal, presence, or a check object."""
    outcomes = []
    for name, wanted in expected.items():
        actual = headers.get(name)
        check = wanted if isinstance(wanted, HeaderCheck) else None
        if isinstance(wanted, bool):
            check = HeaderCheck(present=wanted)
        elif isinstance(wanted, str):
            check = HeaderCheck(equals=wanted)
        assert check is not None
        problems = []
        if check.present is not None and (actual is not None) != check.present:
            problems.append("present" if check.present else "absent")
        if check.equals is not None and actual != check.equals:
            problems.append(f"equal to {check.equals!r}")
        if check.contains is not None and (actual is None or check.contains not in actual):
            problems.append(f"containing {check.contains!r}")
        if check.matches is not None and (actual is None or not re.search(check.matches, actual)):
            problems.append(f"matching /{check.matches}/")
        shown = check.model_dump(exclude_none=True)
        outcomes.append(
            AssertionOutcome(
                check=f"header {name}",
                expected=shown,
                actual=_shown(actual),
                passed=not problems,
                message=(
                    f"header {name}: expected {' and '.join(problems)}, got {_shown(actual)!r}"
                    if problems
                    else ""
                ),
            )
        )
    return outcomes


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _judge(check: str, wanted: Any, matches: list[Any], value: Any) -> tuple[bool, Any]:
    """Whether one check holds, and the actual value to show."""
    if check == "exists":
        return bool(matches) == wanted, len(matches) > 0
    if not matches:
        return False, "nothing matched"
    if check == "equals":
        return value == wanted, value
    if check == "not_equals":
        return value != wanted, value
    if check == "contains":
        if isinstance(value, str):
            return isinstance(wanted, str) and wanted in value, value
        if isinstance(value, list | dict):
            return wanted in value, value
        return False, value
    if check == "matches":
        return isinstance(value, str) and re.search(wanted, value) is not None, value
    if check == "type":
        actual = _json_type(value)
        return actual == wanted or (wanted == "number" and actual == "integer"), actual
    if check == "length":
        size = len(matches) if len(matches) > 1 else _length(value)
        return size == wanted, size
    number = _number(value)
    if number is None:
        return False, value
    compare = {
        "gt": number > wanted,
        "gte": number >= wanted,
        "lt": number < wanted,
        "lte": number <= wanted,
    }
    return compare[check], value


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | dict) else None


def _matches(path: str, body: Any) -> list[Any]:
    """What `path` selects in a JSON value. python-jsonpath reads a `str` argument as JSON
    text, so a body that is a JSON string is matched as the value it is: `$` selects it, and
    it has no members."""
    if isinstance(body, str):
        return [body] if path.strip() == "$" else []
    return list(jsonpath.findall(path, body))


def check_jsonpath(
    assertions: list[JsonPathAssertion], body: Any, is_json: bool
) -> list[AssertionOutcome]:
    """Each JSONPath assertion's checks, on the single match or on the list of matches."""
    outcomes = []
    for assertion in assertions:
        matches = _matches(assertion.path, body) if is_json else []
        value = matches[0] if len(matches) == 1 else matches
        for check in assertion.checks():
            wanted = getattr(assertion, check)
            label = f"jsonpath {assertion.path} {check}"
            if not is_json:
                passed, actual = (check == "exists" and wanted is False), "the body is not JSON"
            else:
                passed, actual = _judge(check, wanted, matches, value)
            outcomes.append(
                AssertionOutcome(
                    check=label,
                    expected=_shown(wanted),
                    actual=_shown(actual),
                    passed=passed,
                    message=""
                    if passed
                    else f"{label}: expected {_shown(wanted)!r}, got {_shown(actual)!r}",
                )
            )
    return outcomes


def check_latency(limit_ms: float, elapsed_ms: float) -> AssertionOutcome:
    """The response arrived within the bound."""
    passed = elapsed_ms <= limit_ms
    return AssertionOutcome(
        check="latency",
        expected=f"<= {limit_ms:g} ms",
        actual=round(elapsed_ms, 2),
        passed=passed,
        message="" if passed else f"latency: {elapsed_ms:.1f} ms exceeds {limit_ms:g} ms",
    )


def take_captures(
    captures: Mapping[str, str | Capture], response: httpx.Response, body: Any, is_json: bool
) -> tuple[dict[str, Any], list[AssertionOutcome]]:
    """The values captured, and a failed assertion for each capture that found nothing."""
    captured: dict[str, Any] = {}
    failures: list[AssertionOutcome] = []
    for name, source in captures.items():
        capture = Capture(jsonpath=source) if isinstance(source, str) else source
        value: Any = _MISSING
        if capture.jsonpath is not None:
            where = capture.jsonpath
            found = jsonpath.findall(capture.jsonpath, body) if is_json else []
            if found:
                value = found[0]
        else:
            where = f"header {capture.header}"
            header = response.headers.get(capture.header or "")
            if header is not None:
                value = header
        if value is _MISSING and capture.has_default:
            value = capture.default
        if value is _MISSING:
            failures.append(
                AssertionOutcome(
                    check=f"capture {name}",
                    expected=f"a value at {where}",
                    actual="nothing found" if is_json or capture.header else "the body is not JSON",
                    passed=False,
                    message=f"capture {name}: nothing at {where}",
                )
            )
            continue
        captured[name] = value
    return captured, failures
