"""Error scenarios for given endpoints: 4xx, 5xx, timeouts, rate limits, malformed responses.

Severity sets how hard each scenario hits: the share of failing calls (low 5%, medium 20%,
high 50%, critical every call), the delays of timeouts, the calls allowed before a 429. Each
endpoint gets the client error that fits its method (404 for an item read, 409 for a create,
422 for an update...). With a description the rules name operationIds and the test plans send
valid requests; without one the rules select by method and path and the plans fill path
parameters with placeholder values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockloop.errors import ConfigError
from mockloop.packs.plans import OperationRequests
from mockloop.spec.model import ApiSpec, Operation
from mockloop.testing.plans.model import parse_plan

__all__ = ["ERROR_TYPES", "SEVERITIES", "EndpointRef", "build_error_scenarios", "resolve_endpoints"]

ERROR_TYPES = ("client_error", "server_error", "timeout", "rate_limit", "malformed_response")
_ERROR_ALIASES = {
    "4xx": "client_error", "client": "client_error", "client_errors": "client_error",
    "5xx": "server_error", "server": "server_error", "server_errors": "server_error",
    "timeouts": "timeout", "network_timeout": "timeout", "network_timeouts": "timeout",
    "rate_limiting": "rate_limit", "429": "rate_limit", "throttling": "rate_limit",
    "malformed": "malformed_response", "malformed_responses": "malformed_response",
    "invalid_response": "malformed_response",
}  # fmt: skip
SEVERITIES: dict[str, dict[str, Any]] = {
    "low": {"rate": 0.05, "delay": (1000, 2000), "allowed": 20, "server": 503},
    "medium": {"rate": 0.2, "delay": (2000, 5000), "allowed": 10, "server": 500},
    "high": {"rate": 0.5, "delay": (5000, 10000), "allowed": 5, "server": 500},
    "critical": {"rate": 1.0, "delay": (15000, 30000), "allowed": 1, "server": 503},
}
_TITLES = {
    400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Content",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
_ENDPOINT = re.compile(r"^\s*([A-Za-z]+)\s+(/\S*)\s*$")


@dataclass(frozen=True)
class EndpointRef:
    """An endpoint: method and path, and its operation when a description is known."""

    method: str
    path: str
    operation: Operation | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def selector(self) -> dict[str, Any]:
        if self.operation is not None:
            return {"operation": self.operation.operation_id}
        return {"method": self.method, "path": self.path}


def resolve_error_types(error_types: list[str] | None) -> list[str]:
    """Canonical error types (all when None); ConfigError for an unknown one."""
    if not error_types:
        return list(ERROR_TYPES)
    out = []
    for raw in error_types:
        key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
        key = _ERROR_ALIASES.get(key, key)
        if key not in ERROR_TYPES:
            raise ConfigError(
                f"error_types: unknown type {raw!r}; use {', '.join(ERROR_TYPES)} "
                "(or 4xx, 5xx, timeouts, rate_limiting, malformed)"
            )
        if key not in out:
            out.append(key)
    return out


def resolve_endpoints(api_endpoints: Any, spec: ApiSpec | None) -> list[EndpointRef]:
    """EndpointRefs from "GET /pets", operationIds, or {"method", "path"} objects."""
    if isinstance(api_endpoints, str):
        api_endpoints = [api_endpoints]
    if isinstance(api_endpoints, list) and [str(e).strip().lower() for e in api_endpoints] in (
        ["all"],
        ["*"],
    ):
        if spec is None:
            raise ConfigError(
                'api_endpoints="all" needs api_spec (its operations are the endpoints); '
                'without a description list them, e.g. ["GET /pets", "POST /pets"]'
            )
        api_endpoints = None
    if not api_endpoints:
        if spec is None:
            raise ConfigError(
                'api_endpoints is required without api_spec: e.g. ["GET /pets", "POST /pets"]'
            )
        return [EndpointRef(op.method.upper(), op.path, op) for op in spec.operations]
    if not isinstance(api_endpoints, list):
        raise ConfigError('api_endpoints must be a list such as ["GET /pets", "POST /pets"]')
    refs: list[EndpointRef] = []
    for index, item in enumerate(api_endpoints):
        method = path = None
        if isinstance(item, dict):
            method, path = item.get("method", "GET"), item.get("path") or item.get("endpoint")
            op_id = item.get("operation") or item.get("operationId")
            if op_id and spec is not None:
                method, path = _by_id(spec, str(op_id), index)
        elif isinstance(item, str):
            match = _ENDPOINT.match(item)
            if match:
                method, path = match.group(1), match.group(2)
            elif item.startswith("/"):
                method, path = "GET", item.strip()
            elif spec is not None:
                method, path = _by_id(spec, item, index)
        if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(
                f'api_endpoints[{index}]={item!r}: give "METHOD /path", an operationId (with '
                'api_spec) or {"method": "GET", "path": "/pets"}'
            )
        method = method.upper()
        op = None
        if spec is not None:
            op = next(
                (o for o in spec.operations if o.method.upper() == method and o.path == path),
                None,
            )
            if op is None:
                raise ConfigError(
                    f"api_endpoints[{index}]: {method} {path} is not an operation of "
                    f"{spec.title}; its operations: "
                    + ", ".join(f"{o.method.upper()} {o.path}" for o in spec.operations[:20])
                )
        ref = EndpointRef(method, path, op)
        if ref not in refs:
            refs.append(ref)
    return refs


def _by_id(spec: ApiSpec, op_id: str, index: int) -> tuple[str, str]:
    for op in spec.operations:
        if op.operation_id == op_id:
            return op.method.upper(), op.path
    raise ConfigError(f"api_endpoints[{index}]: no operation {op_id!r} in {spec.title}")


def _client_status(ref: EndpointRef) -> int:
    has_id = "{" in ref.path
    if ref.method == "POST":
        return 409 if not has_id else 422
    if ref.method in ("PUT", "PATCH"):
        return 422
    if has_id:
        return 404
    return 400


def _problem(status: int, detail: str, ref: EndpointRef) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": ref.path,
    }


def _error_rule(ref: EndpointRef, status: int, rate: float, detail: str) -> dict[str, Any]:
    body = _problem(status, detail, ref)
    if rate >= 1:
        return {**ref.selector(), "status": status, "body": body}
    return {**ref.selector(), "error_rate": rate, "error_status": status, "error_body": body}


def _rules(kind: str, ref: EndpointRef, level: dict[str, Any], index: int) -> dict[str, Any]:
    rate = level["rate"]
    if kind == "client_error":
        status = _client_status(ref)
        return _error_rule(ref, status, rate, f"simulated {status} for {ref.label}")
    if kind == "server_error":
        status = (level["server"], 502, 503)[index % 3] if rate < 1 else level["server"]
        rule = _error_rule(ref, status, rate, f"simulated server failure of {ref.label}")
        if status == 503:
            target = rule["body"] if "body" in rule else rule["error_body"]
            target["detail"] += "; retry later"
            if "status" in rule:
                rule["headers"] = {"Retry-After": "30"}
        return rule
    if kind == "timeout":
        low, high = level["delay"]
        if rate >= 1:
            return {
                **ref.selector(),
                "delay": {"distribution": "uniform", "min_ms": low, "max_ms": high},
            }
        slow = max(1, round(1 / rate))
        return {
            **ref.selector(),
            "sequence": [{"delay": {"distribution": "uniform", "min_ms": low, "max_ms": high}}]
            + [{} for _ in range(slow - 1)],
            "sequence_end": "cycle",
        }
    if kind == "rate_limit":
        allowed = level["allowed"]
        ok = [
            {
                "headers": {
                    "RateLimit-Limit": str(allowed),
                    "RateLimit-Remaining": str(allowed - i - 1),
                }
            }
            for i in range(allowed)
        ]
        blocked = {
            "status": 429,
            "headers": {
                "Retry-After": "1",
                "RateLimit-Limit": str(allowed),
                "RateLimit-Remaining": "0",
            },
            "body": _problem(429, f"more than {allowed} call(s) to {ref.label}", ref),
        }
        return {**ref.selector(), "sequence": [*ok, blocked], "sequence_end": "cycle"}
    bodies: list[Any] = [{}, [], "not json: <html>502 Bad Gateway</html>", {"data": None}]
    body = bodies[index % len(bodies)]
    if rate >= 1:
        return {**ref.selector(), "body": body}
    good = max(1, round(1 / rate) - 1)
    return {**ref.selector(), "sequence": [{"body": body}] + [{} for _ in range(good)]}


def _fallback_plan(scenario: dict[str, Any]) -> dict[str, Any] | None:
    """Steps for rules selecting by method and path (no description): placeholder ids."""
    steps = []
    for rule in scenario["rules"][:5]:
        method, path = rule.get("method"), rule.get("path")
        if not method or not path:
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        calls = rule.get("sequence") or [rule]
        for index, entry in enumerate(calls[:12]):
            if "error_rate" in rule:
                status: Any = ["2XX", rule["error_status"]]
            else:
                status = entry.get("status") or "2XX"
            steps.append(
                {
                    "name": f"{method} {path} call {index + 1}",
                    "operation": f"{method} {path}",
                    "request": {"path_params": dict.fromkeys(names, "1")},
                    "expect": {"status": status, "conforms_to_schema": False},
                }
            )
    if not steps:
        return None
    plan = {
        "name": f"{scenario['name']} expectations",
        "description": "Placeholder path values (1): without a description no valid request "
        "can be generated; requests the API validates or protects fail before the scenario.",
        "timeout_s": 40.0,
        "steps": steps[:30],
    }
    parse_plan(plan)
    return plan


def build_error_scenarios(
    refs: list[EndpointRef],
    error_types: list[str],
    severity: str,
    spec: ApiSpec | None,
    *,
    prefix: str = "errors",
) -> tuple[list[dict[str, Any]], list[str]]:
    """One scenario per error type over every endpoint, with its plan; notes on the plans."""
    if severity not in SEVERITIES:
        raise ConfigError(f"severity_level={severity!r}; use one of {', '.join(SEVERITIES)}")
    level = SEVERITIES[severity]
    requests = OperationRequests(spec) if spec is not None else None
    scenarios: list[dict[str, Any]] = []
    notes: list[str] = []
    for kind in error_types:
        rules = [_rules(kind, ref, level, index) for index, ref in enumerate(refs)]
        name = f"{prefix}-{kind.replace('_', '-')}-{severity}"
        scenario: dict[str, Any] = {
            "name": name,
            "description": _describe(kind, severity, level, len(refs)),
            "rules": rules,
            "type": "error",
            "scenario_type": kind,
            "tags": ["error", kind, severity],
            "source": "mockloop.prompts.generate_error_scenarios",
            "expected_outcomes": _outcomes(kind),
        }
        if requests is not None:
            plan, plan_notes = requests.plan_for(scenario)
            notes.extend(f"{name}: {note}" for note in plan_notes)
        else:
            plan = _fallback_plan(scenario)
        if plan is not None:
            scenario["test_plan"] = plan
        scenarios.append(scenario)
    return scenarios, notes


def _describe(kind: str, severity: str, level: dict[str, Any], count: int) -> str:
    share = "every call" if level["rate"] >= 1 else f"{level['rate'] * 100:.0f}% of calls"
    low, high = level["delay"]
    text = {
        "client_error": f"{share} answer the 4xx that fits each endpoint (404, 409, 422, 400)",
        "server_error": f"{share} answer 500, 502 or 503",
        "timeout": f"{share} wait {low / 1000:g}-{high / 1000:g} s before answering",
        "rate_limit": f"{level['allowed']} call(s) succeed, then one answers 429 with Retry-After",
        "malformed_response": f"{share} answer with a body that breaks the documented contract",
    }[kind]
    return (
        f"{severity.capitalize()} severity {kind.replace('_', ' ')} on {count} endpoint(s): {text}."
    )


def _outcomes(kind: str) -> list[str]:
    return {
        "client_error": ["4xx answers are shown to the caller and not retried"],
        "server_error": ["5xx answers are retried with backoff; 503 honours Retry-After"],
        "timeout": ["client timeouts fire and the call is retried or reported"],
        "rate_limit": ["429 answers are retried after Retry-After, never at once"],
        "malformed_response": ["invalid bodies are rejected by the client's validation"],
    }[kind]
