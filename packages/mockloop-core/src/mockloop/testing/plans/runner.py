"""Running a test plan against a real HTTP server, step by step, keeping the evidence.

Before any request is sent every step is resolved: the operation it names must be one of the
description's (ConfigError naming the step and the closest names otherwise), its path
placeholders must have values, and every `${name}` it uses must be a plan variable, an
environment variable (`${env:NAME}`) or a capture of an earlier step. Then each step sends its
request with httpx, checks status, schema conformance, headers, JSONPath assertions and latency,
and captures values for the steps after it. A step whose dependency did not pass, or whose
captured input is missing, is skipped with the reason; a request that gets no answer is an
error. Evidence (the request sent, the response excerpt, each assertion with expected and
actual) is redacted of secrets and truncated.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from mockloop.audit.redaction import redact_arguments, redact_text
from mockloop.errors import ConfigError
from mockloop.mock.router import Router, split_template
from mockloop.spec.model import ApiSpec, Operation
from mockloop.spec.validation import SchemaValidator
from mockloop.testing.plans.checks import (
    check_headers,
    check_jsonpath,
    check_latency,
    check_schema,
    check_status,
    decode_json,
    take_captures,
)
from mockloop.testing.plans.model import (
    REQUEST_KEYS,
    VARIABLE,
    Expectations,
    PlanStep,
    StepOutcome,
    TestPlan,
    variables_in,
)

__all__ = ["PlanRunner", "PreparedStep", "StepCallback", "prepare_steps"]

_PLACEHOLDER = re.compile(r"(?<!\$)\{([^{}/]+)\}")
_METHOD_PATH = re.compile(r"^([A-Za-z]+)\s+(/\S*)$")
_EXCERPT = 2000
_MAX_HEADERS = 30

StepCallback = Callable[[int, int, StepOutcome], Awaitable[None]]


@dataclass(slots=True)
class PreparedStep:
    """A step resolved against the description: its method, path template and operation."""

    index: int
    name: str
    step: PlanStep
    method: str
    path: str
    operation: Operation | None
    variables: set[str] = field(default_factory=set)
    # The operation's query discriminator (`/#Action=X` in the template), always sent.
    fixed_query: list[tuple[str, str]] = field(default_factory=list)


def _operation_names(spec: ApiSpec) -> list[str]:
    return [op.operation_id for op in spec.operations] + [
        f"{op.method.upper()} {op.path}" for op in spec.operations
    ]


def _find_operation(name: str, spec: ApiSpec | None, where: str) -> Operation | None:
    """The operation `name` designates; None for "METHOD /path" without a description."""
    found = _METHOD_PATH.match(name.strip())
    if spec is None:
        if found:
            return None
        raise ConfigError(
            f"{where}.operation: {name!r} names an operation, but no description is available "
            "to look it up: give openapi_spec= (or run against a MockLoop mock), or write the "
            "step with request.method and request.path"
        )
    for op in spec.operations:
        if op.operation_id == name:
            return op
        if found and op.method.upper() == found.group(1).upper() and op.path == found.group(2):
            return op
    close = difflib.get_close_matches(name, _operation_names(spec), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else ""
    if not hint:
        listed = [op.operation_id for op in spec.operations]
        hint = f"its operations: {', '.join(listed[:30])}" + (" ..." if len(listed) > 30 else "")
    raise ConfigError(f"{where}.operation: {name!r} is not an operation of the description; {hint}")


def prepare_steps(
    plan: TestPlan, spec: ApiSpec | None, extra_variables: set[str] | None = None
) -> list[PreparedStep]:
    """Resolve every step before anything is sent; ConfigError naming the field otherwise."""
    names = plan.step_names()
    defined = set(plan.variables) | set(extra_variables or ())
    _check_references(plan.headers, defined, "headers")
    prepared: list[PreparedStep] = []
    for index, step in enumerate(plan.steps):
        where = f"steps[{index}]"
        request = step.request
        op = _find_operation(step.operation, spec, where) if step.operation else None
        method, path = request.method, request.path
        fixed: list[tuple[str, str]] = []
        if step.operation and op is None:  # "METHOD /path" without a description
            found = _METHOD_PATH.match(step.operation.strip())
            assert found is not None
            method = method or found.group(1).upper()
            path = path or found.group(2)
        if op is not None:
            if method is not None and method != op.method.upper():
                raise ConfigError(
                    f"{where}.request.method: {method} differs from the method of "
                    f"{op.operation_id} ({op.method.upper()} {op.path}); leave it out"
                )
            method = op.method.upper()
            template, discriminator = split_template(op.path)
            path = path or template
            fixed = [(name, value or "") for name, value in discriminator]
        if path is None:
            raise ConfigError(
                f"{where}: give operation (an operationId or 'METHOD /path'), or request.path "
                "(and request.method)"
            )
        missing = [p for p in _PLACEHOLDER.findall(path) if p not in request.path_params]
        if missing:
            raise ConfigError(
                f"{where}.request.path_params: no value for {', '.join(missing)} of {path}; "
                f'give e.g. {{"path_params": {{"{missing[0]}": ...}}}}'
            )
        used: set[str] = set()
        for key in REQUEST_KEYS:
            value = getattr(request, key)
            used |= _check_references(value, defined, f"{where}.request.{key}")
        expected = step.expect.model_dump(mode="json", exclude_unset=True)
        for key, value in expected.items():
            used |= _check_references(value, defined, f"{where}.expect.{key}")
        prepared.append(
            PreparedStep(
                index, names[index], step, method or "GET", path, op, used, fixed_query=fixed
            )
        )
        defined |= set(step.capture)
    return prepared


def _check_references(value: Any, defined: set[str], where: str) -> set[str]:
    used = set()
    for name in variables_in(value):
        if name.startswith("env:"):
            if name[4:] not in os.environ:
                raise ConfigError(
                    f"{where}: ${{{name}}} names the environment variable {name[4:]}, which is "
                    "not set"
                )
            continue
        if name not in defined:
            known = sorted(defined)
            raise ConfigError(
                f"{where}: ${{{name}}} is not defined: define it in the plan's variables, pass "
                "it in variables=, or capture it in an earlier step "
                f"(defined so far: {known or 'none'})"
            )
        used.add(name)
    return used


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """`value` with `${name}` replaced; a string that is exactly one reference keeps the
    variable's type (a captured id stays a number in a JSON body)."""
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return VARIABLE.sub(lambda m: _text(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def _lookup(name: str, variables: dict[str, Any]) -> Any:
    if name.startswith("env:"):
        return os.environ.get(name[4:], "")
    return variables[name]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def _excerpt(value: Any) -> Any:
    """A redacted, truncated copy fit for evidence."""
    redacted = redact_arguments(value)
    if isinstance(redacted, str):
        return redacted if len(redacted) <= _EXCERPT else redacted[:_EXCERPT] + "…"
    text = orjson.dumps(redacted).decode()
    if len(text) <= _EXCERPT:
        return redacted
    return text[:_EXCERPT] + "…"


class PlanRunner:
    """Sends a prepared plan's requests to one server and judges each response."""

    def __init__(
        self,
        plan: TestPlan,
        steps: list[PreparedStep],
        base_url: str,
        *,
        spec: ApiSpec | None = None,
        headers: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None,
        timeout: float | None = None,
        on_step: StepCallback | None = None,
    ) -> None:
        self.plan = plan
        self.steps = steps
        self.base_url = base_url.rstrip("/")
        self.spec = spec
        self.validator = SchemaValidator(spec.document) if spec is not None else None
        self.router = Router(spec.operations, spec.base_path) if spec is not None else None
        self.headers = dict(headers or {})
        self.variables: dict[str, Any] = {**plan.variables, **(variables or {})}
        self.timeout = timeout or plan.timeout_s
        self.on_step = on_step
        self._capturer: dict[str, str] = {}  # variable -> name of the step capturing it

    async def run(self) -> list[StepOutcome]:
        """Run every step in order; each outcome is final when returned."""
        from mockloop.version import __version__

        outcomes: list[StepOutcome] = []
        by_name: dict[str, StepOutcome] = {}
        stopped = False
        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"mockloop-test-plan/{__version__}"},
        ) as client:
            for prepared in self.steps:
                if stopped:
                    outcome = self._outcome(
                        prepared, "skipped", "stop_on_failure: an earlier step failed"
                    )
                else:
                    outcome = await self._run_step(client, prepared, by_name)
                outcomes.append(outcome)
                by_name[prepared.name] = outcome
                for variable in prepared.step.capture:
                    self._capturer[variable] = prepared.name
                if self.plan.stop_on_failure and outcome.status in ("failed", "error"):
                    stopped = True
                if self.on_step is not None:
                    await self.on_step(prepared.index + 1, len(self.steps), outcome)
        return outcomes

    def _outcome(
        self, prepared: PreparedStep, status: Literal["skipped", "error"], reason: str
    ) -> StepOutcome:
        """The outcome of a step that got no response: skipped, or an error before one."""
        op = prepared.operation
        return StepOutcome(
            index=prepared.index,
            name=prepared.name,
            operation=op.operation_id if op else None,
            kind=prepared.step.kind,
            status=status,
            reason=reason,
        )

    def _skip_reason(self, prepared: PreparedStep, by_name: dict[str, StepOutcome]) -> str | None:
        for dependency in prepared.step.depends_on:
            outcome = by_name[dependency]
            if outcome.status != "passed":
                return f"depends on {dependency!r}, which {_past(outcome.status)}"
        for variable in sorted(prepared.variables):
            if variable not in self.variables:
                source = self._capturer.get(variable, "?")
                status = by_name[source].status if source in by_name else "did not run"
                return (
                    f"needs ${{{variable}}}, which step {source!r} did not capture "
                    f"(that step {_past(status)})"
                )
        return None

    async def _run_step(
        self, client: httpx.AsyncClient, prepared: PreparedStep, by_name: dict[str, StepOutcome]
    ) -> StepOutcome:
        reason = self._skip_reason(prepared, by_name)
        if reason is not None:
            return self._outcome(prepared, "skipped", reason)
        step = prepared.step
        try:
            request = self._build(client, prepared)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError, TypeError) as exc:
            problem = redact_text(str(exc)) or type(exc).__name__
            return self._outcome(prepared, "error", f"the request cannot be built: {problem}")
        sent = self._request_evidence(request, prepared)
        started = time.perf_counter()
        try:
            response = await client.send(request)
            await response.aread()
        except httpx.HTTPError as exc:
            problem = redact_text(str(exc)) or "no detail"
            outcome = self._outcome(
                prepared, "error", f"no response: {type(exc).__name__}: {problem}"
            )
            outcome.request = sent
            outcome.elapsed_ms = round((time.perf_counter() - started) * 1000.0, 2)
            return outcome
        elapsed = (time.perf_counter() - started) * 1000.0
        op = prepared.operation or self._route(prepared.method, request.url)
        notes: list[str] = []
        body, is_json = decode_json(response)
        expect = step.expect
        if variables_in(expect.model_dump(mode="json", exclude_unset=True)):
            expect = Expectations.model_validate(
                substitute(expect.model_dump(mode="json", exclude_unset=True), self.variables)
            )
        assertions = [check_status(step.default_status(), response.status_code)]
        # HEAD, 204 and 304 responses have no body to check, whatever the description says.
        bodiless = prepared.method == "HEAD" or response.status_code in (204, 304)
        if bodiless or not expect.conforms_to_schema:
            pass
        elif op is not None and self.validator is not None:
            verdict = check_schema(op, response, body, is_json, self.validator)
            if isinstance(verdict, str):
                notes.extend([verdict] if verdict else [])
            else:
                assertions.append(verdict)
        elif self.spec is not None:
            notes.append(
                f"{prepared.method} {request.url.path} is no operation of the description; "
                "the body is not checked against a schema"
            )
        assertions.extend(check_headers(expect.headers, response.headers))
        assertions.extend(check_jsonpath(expect.jsonpath, body, is_json))
        if expect.max_latency_ms is not None:
            assertions.append(check_latency(expect.max_latency_ms, elapsed))
        captured, capture_checks = take_captures(step.capture, response, body, is_json)
        assertions.extend(capture_checks)
        self.variables.update(captured)
        failed = [a for a in assertions if not a.passed]
        return StepOutcome(
            index=prepared.index,
            name=prepared.name,
            operation=op.operation_id if op else None,
            kind=step.kind,
            status="failed" if failed else "passed",
            reason="; ".join(a.message for a in failed[:3]),
            request=sent,
            response=self._response_evidence(response, body, is_json),
            elapsed_ms=round(elapsed, 2),
            assertions=assertions,
            captured=redact_arguments(captured),
            notes=notes,
        )

    def _build(self, client: httpx.AsyncClient, prepared: PreparedStep) -> httpx.Request:
        step = prepared.step
        values = self.variables
        path_params = substitute(step.request.path_params, values)
        path = _PLACEHOLDER.sub(
            lambda m: quote(_text(path_params.get(m.group(1))), safe=""),
            substitute(prepared.path, values),
        )
        query: list[tuple[str, str | int | float | bool | None]] = []
        params = substitute(step.request.params, values)
        for name, value in params.items():
            for item in value if isinstance(value, list) else [value]:
                query.append((name, _text(item)))
        query.extend(pair for pair in prepared.fixed_query if pair[0] not in params)
        headers = {**substitute(self.plan.headers, values)}
        step_headers = substitute(step.request.headers, values)
        removed = {name.lower() for name, value in step_headers.items() if value == ""}
        headers.update(step_headers)
        headers.update(self.headers)
        headers = {k: v for k, v in headers.items() if k.lower() not in removed}
        content: bytes | None = None
        body = substitute(step.request.body, values)
        if body is not None:
            media = step.request.content_type
            if media is None or "json" in media.lower():
                content = orjson.dumps(body)
            else:
                content = body.encode() if isinstance(body, str) else orjson.dumps(body)
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = media or "application/json"
        return client.build_request(
            prepared.method,
            self.base_url + path,
            params=httpx.QueryParams(query) if query else None,
            headers=headers,
            content=content,
        )

    def _route(self, method: str, url: httpx.URL) -> Operation | None:
        if self.router is None:
            return None
        path = url.raw_path.decode("latin-1").split("?", 1)[0]
        base = httpx.URL(self.base_url).raw_path.decode("latin-1").rstrip("/")
        if base and path.startswith(base):
            path = path[len(base) :] or "/"
        return self.router.match(method, path, url.query.decode("latin-1")).operation

    def _request_evidence(self, request: httpx.Request, prepared: PreparedStep) -> dict[str, Any]:
        body: Any = None
        if request.content:
            try:
                body = orjson.loads(request.content)
            except orjson.JSONDecodeError:
                body = request.content.decode("utf-8", "replace")
        shown = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("host", "accept-encoding", "connection", "content-length")
        }
        return {
            "method": prepared.method,
            "url": redact_text(str(request.url)),
            "headers": redact_arguments(shown),
            "body": _excerpt(body) if body is not None else None,
        }

    def _response_evidence(self, response: httpx.Response, body: Any, is_json: bool) -> dict:
        headers = dict(list(response.headers.items())[:_MAX_HEADERS])
        if is_json:
            excerpt = _excerpt(body)
        else:
            excerpt = _excerpt(response.content[: _EXCERPT * 2].decode("utf-8", "replace"))
        return {
            "status": response.status_code,
            "headers": redact_arguments(headers),
            "content_type": response.headers.get("content-type"),
            "body_bytes": len(response.content),
            "body": excerpt if response.content else None,
        }


def _past(status: str) -> str:
    return {
        "failed": "failed",
        "error": "got no response",
        "skipped": "was skipped",
        "passed": "passed",
    }.get(status, status)
