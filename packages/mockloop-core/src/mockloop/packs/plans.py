"""Test plans and load mixes for concrete scenarios: what a run under the scenario must see.

Each step sends the request a generated happy-path plan would send for the rule's operation
(path, required parameters, a JSON body and placeholder credentials, all from the description)
and expects what the rule makes the mock answer: its status (the documented success where the
rule keeps it, every status of a sequence in turn, either outcome of a partial error rate), the
headers it sets, the `status` member of a problem body, a string of an inline body. Schema
conformance is checked only for plain success answers. A plan is meant to run while its scenario
is active, right after activation when the scenario has sequences (each call moves a sequence
on).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from mockloop.errors import ConfigError
from mockloop.spec.model import ApiSpec, Operation
from mockloop.testing.plans.generate import generate_plan
from mockloop.testing.plans.model import VARIABLE, parse_plan

__all__ = ["OperationRequests", "delay_ceiling_ms"]

_MAX_STEPS = 30
_MAX_SEQUENCE_STEPS = 12


def delay_ceiling_ms(spec: dict[str, Any] | None) -> float:
    """A practical upper bound of a delay (a normal's mean + 6 sd, 10x an exponential mean)."""
    if not spec:
        return 0.0
    kind = spec.get("distribution", "fixed")
    if kind == "fixed":
        return float(spec.get("ms") or 0)
    if kind == "uniform":
        return float(spec.get("max_ms") or 0)
    if kind == "normal":
        return float(spec.get("mean_ms") or 0) + 6 * float(spec.get("stddev_ms") or 0)
    return 10 * float(spec.get("mean_ms") or 0)


def _entry_delay_ms(entry: dict[str, Any]) -> float:
    return max(delay_ceiling_ms(entry.get("delay")), float(entry.get("delay_ms") or 0))


class OperationRequests:
    """Valid requests and documented success statuses per operation of one description."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self._steps: dict[str, dict[str, Any] | None] = {}
        self._ops = {op.operation_id: op for op in spec.operations}

    def operation(self, operation_id: str) -> Operation | None:
        """The operation with this id, or None."""
        return self._ops.get(operation_id)

    def step(self, operation_id: str) -> dict[str, Any] | None:
        """The generated happy-path step of an operation (request and expected status)."""
        if operation_id not in self._steps:
            try:
                plan, _ = generate_plan(self.spec, focus="happy_path", operations=[operation_id])
                step = plan.steps[0].model_dump(mode="json", exclude_defaults=True)
            except ConfigError:
                step = None
            self._steps[operation_id] = step
        return self._steps[operation_id]

    def success(self, operation_id: str) -> list[int | str]:
        """The documented success status(es) of an operation ("2XX" when none is)."""
        step = self.step(operation_id)
        status = (step or {}).get("expect", {}).get("status", "2XX")
        return list(status) if isinstance(status, list) else [status]

    # -- plans ------------------------------------------------------------------------------

    def plan_for(
        self, scenario: dict[str, Any], *, max_operations: int = 5
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """A plan expecting what `scenario` makes the mock answer, and notes on what is left out."""
        steps: list[dict[str, Any]] = []
        notes: list[str] = []
        covered = 0
        longest_delay = 0.0
        for rule in scenario.get("rules", []):
            op_id = rule.get("operation")
            if not isinstance(op_id, str) or covered >= max_operations:
                continue
            base = self.step(op_id)
            if base is None:
                notes.append(f"{op_id}: no valid request can be generated; not in the plan")
                continue
            covered += 1
            request = base.get("request", {})
            calls = self._expected_calls(op_id, rule)
            for index, (expect, delay) in enumerate(calls):
                longest_delay = max(longest_delay, delay)
                name = op_id if len(calls) == 1 else f"{op_id} call {index + 1}"
                steps.append(
                    {
                        "name": name,
                        "operation": op_id,
                        "request": request,
                        "expect": expect,
                        "description": f"{scenario['name']}: call {index + 1} of {op_id}",
                    }
                )
            if len(steps) >= _MAX_STEPS:
                notes.append(f"the plan stops at {_MAX_STEPS} steps")
                break
        if not steps:
            return None, notes or ["no operation of the scenario can be called by a plan"]
        plan = {
            "name": f"{scenario['name']} expectations",
            "description": (
                f"What scenario {scenario['name']!r} makes the mock answer; execute_test_plan "
                "activates the scenario for the run (sequences start over) and restores the "
                "one active before."
            ),
            "scenario": scenario["name"],
            "timeout_s": min(600.0, max(10.0, longest_delay / 1000.0 + 5.0)),
            "steps": steps[:_MAX_STEPS],
        }
        parse_plan(plan)
        return plan, notes

    def serves_json(self, operation_id: str, statuses: list[Any]) -> bool:
        """An inline body of a rule reaches the client as JSON for all these statuses: not for
        HEAD, nor where the documented response has only non-JSON media (the mock encodes
        the body as that media, e.g. XML)."""
        op = self.operation(operation_id)
        if op is None or op.method.upper() == "HEAD":
            return False
        for status in statuses:
            key = str(status)
            response = op.responses.get(key)
            if response is None and key.isdigit():
                response = op.responses.get(f"{key[0]}XX") or op.responses.get(f"{key[0]}xx")
                response = response or op.responses.get("default")
            if response is None or not response.content:
                continue
            if not any(_is_json(media) for media in response.content):
                return False
        return True

    def _expected_calls(
        self, op_id: str, rule: dict[str, Any]
    ) -> list[tuple[dict[str, Any], float]]:
        success = self.success(op_id)
        sequence = rule.get("sequence") or []
        if sequence:
            return [
                (
                    self._expect(success, entry, [entry.get("status")], op_id=op_id),
                    _entry_delay_ms(entry),
                )
                for entry in sequence[:_MAX_SEQUENCE_STEPS]
            ]
        rate = float(rule.get("error_rate") or 0)
        if rate >= 1:
            statuses: list[Any] = [rule.get("error_status", 500)]
        elif rate > 0:
            base = [rule["status"]] if rule.get("status") is not None else success
            statuses = [*base, rule.get("error_status", 500)]
        else:
            statuses = [rule.get("status")]
        entry = rule if rate < 1 else {"body": rule.get("error_body")}
        expect = self._expect(success, entry, statuses, partial=0 < rate < 1, op_id=op_id)
        return [(expect, _entry_delay_ms(rule))]

    def _expect(
        self,
        success: list[int | str],
        entry: dict[str, Any],
        statuses: list[Any],
        *,
        partial: bool = False,
        op_id: str,
    ) -> dict[str, Any]:
        wanted: list[Any] = []
        for status in statuses:
            for value in success if status is None else [status]:
                if value not in wanted:
                    wanted.append(value)
        plain = all(str(s).startswith("2") for s in wanted) and entry.get("body") is None
        expect: dict[str, Any] = {
            "status": wanted[0] if len(wanted) == 1 else wanted,
            "conforms_to_schema": plain and not partial,
        }
        headers = {
            name: value
            for name, value in (entry.get("headers") or {}).items()
            if not VARIABLE.search(value)
        }
        if headers and not partial:
            expect["headers"] = headers
        body = entry.get("body")
        typed = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
        if "json" not in typed.get("content-type", "json") or not self.serves_json(op_id, wanted):
            body = None  # no body (HEAD) or served as another media type: no JSON to read
        if body is not None and not partial:
            checks = _body_checks(body, wanted)
            if checks:
                expect["jsonpath"] = checks
        return expect

    # -- load mixes -------------------------------------------------------------------------

    def endpoint(self, operation_id: str, weight: int) -> dict[str, Any] | None:
        """A run_load_test endpoint entry for the operation (concrete path, query, body)."""
        base = self.step(operation_id)
        op = self.operation(operation_id)
        if base is None or op is None:
            return None
        request = base.get("request", {})
        path = request.get("path") or op.path.split("#", 1)[0] or "/"
        for name, value in (request.get("path_params") or {}).items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        params = request.get("params") or {}
        if params:
            query = urlencode(
                {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in params.items()},
                doseq=True,
            )
            path = f"{path}{'&' if '?' in path else '?'}{query}"
        entry: dict[str, Any] = {
            "name": operation_id,
            "method": op.method.upper(),
            "path": path,
            "weight": weight,
        }
        if request.get("headers"):
            entry["headers"] = dict(request["headers"])
        if request.get("body") is not None:
            entry["body"] = request["body"]
            if request.get("content_type"):
                entry.setdefault("headers", {})["Content-Type"] = request["content_type"]
        return entry


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base in ("application/json", "text/json", "*/*") or base.endswith("+json")


def _body_checks(body: Any, statuses: list[Any]) -> list[dict[str, Any]]:
    """Checks an inline body makes certain: a problem's status, else one string it holds."""
    if (
        isinstance(body, dict)
        and isinstance(body.get("status"), int)
        and body["status"] in statuses
        and "title" in body
    ):
        return [{"path": "$.status", "equals": body["status"]}]
    if not isinstance(body, dict | list):
        # A bare JSON string body would be re-parsed as JSON text by the JSONPath library.
        return []
    text = _first_string(body)
    if text is None or VARIABLE.search(text):
        return []
    return [{"path": "$..*", "contains": text}]


def _first_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        values: list[Any] = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = _first_string(item)
        if found is not None:
            return found
    return None
