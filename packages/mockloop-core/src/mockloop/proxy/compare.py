"""Mock versus live: the same requests to both sides, compared per operation.

For each request the report gives both statuses and whether they agree, whether each side's
body conforms to the description's response schema (and the violations), and the differences
between the two bodies: structural (a key on one side only, a different JSON type) and values
(same shape, other values; arrays of other lengths), with ignore paths for fields that always
differ (ids, timestamps).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, Field

from mockloop.errors import ConfigError, ServerError
from mockloop.fake import SchemaFaker
from mockloop.proxy.diff import diff_json
from mockloop.proxy.tools import ApiTool, ApiToolRequest, api_tools
from mockloop.spec import ApiSpec, Operation
from mockloop.spec.validation import SchemaValidator

__all__ = [
    "OperationComparison",
    "PlannedRequest",
    "SideResponse",
    "compare_requests",
    "http_sender",
    "parse_body",
    "plan_requests",
    "schema_errors",
]

_NOT_JSON = object()


class PlannedRequest(BaseModel):
    """One request sent to both sides."""

    operation_id: str
    method: str
    path: str = Field(description="with the base path, without the query")
    query: list[tuple[str, str]] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = Field(default=None, description="the JSON body sent, if any")

    def to_http(self) -> ApiToolRequest:
        return ApiToolRequest(
            self.method,
            self.path,
            list(self.query),
            dict(self.headers),
            self.body.encode() if self.body is not None else None,
        )


class SideResponse(BaseModel):
    """What one side answered (or why it did not)."""

    status: int | None = None
    content_type: str = ""
    body: Any = None
    is_json: bool = Field(default=False, description="the body parsed as JSON")
    latency_ms: float = 0.0
    error: str | None = None
    mode: str | None = Field(default=None, description="X-MockLoop-Mode of the answer")


class OperationComparison(BaseModel):
    """The comparison of one request: statuses, conformance, differences, verdict."""

    operation_id: str
    method: str
    path: str
    mock_status: int | None
    live_status: int | None
    status_agrees: bool
    mock_conforms: bool | None = Field(description="None when the side did not answer")
    live_conforms: bool | None
    mock_schema_errors: list[str] = Field(default_factory=list)
    live_schema_errors: list[str] = Field(default_factory=list)
    structural_differences: list[dict[str, Any]] = Field(default_factory=list)
    value_differences: list[dict[str, Any]] = Field(default_factory=list)
    differences_truncated: bool = False
    mock_error: str | None = None
    live_error: str | None = None
    mock_latency_ms: float = 0.0
    live_latency_ms: float = 0.0
    verdict: Literal["match", "value_drift", "drift", "error"] = Field(
        description="match: same status, shape and values; value_drift: only values differ; "
        "drift: status, shape or conformance differ; error: a side did not answer"
    )


SendFunction = Callable[[ApiToolRequest], Awaitable[SideResponse]]


def _sample(param_schema: dict[str, Any], examples: list[Any], faker: SchemaFaker, key: str) -> Any:
    if examples:
        return examples[0]
    for word in ("example", "default"):
        if word in param_schema:
            return param_schema[word]
    if isinstance(param_schema.get("enum"), list) and param_schema["enum"]:
        return param_schema["enum"][0]
    return faker.generate(param_schema, key=key, for_response=False)


def _arguments(tool: ApiTool, op: Operation, faker: SchemaFaker) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for arg, param in tool.arguments.items():
        if param.location == "path" or param.required:
            examples = [e.value for e in param.examples]
            args[arg] = _sample(param.schema or {}, examples, faker, f"{op.operation_id}:{arg}")
    if tool.body_argument is not None and op.request_body is not None:
        schema = tool.input_schema["properties"][tool.body_argument]
        args[tool.body_argument] = faker.generate(
            schema, key=f"{op.operation_id}:body", for_response=False
        )
    return args


def plan_requests(
    spec: ApiSpec,
    *,
    operations: list[str] | None = None,
    methods: list[str] | None = None,
    requests: list[dict[str, Any]] | None = None,
    seed: int = 0,
) -> tuple[list[PlannedRequest], list[str]]:
    """The requests to compare, and the operations skipped (with why).

    Explicit `requests` are {"operation_id", "arguments"} (arguments as the API tools take
    them); otherwise one request per operation whose method is in `methods` (default GET),
    with path and required parameters from examples, defaults, enums or generated data.
    """
    tools = {tool.operation_id: tool for tool in api_tools(spec)}
    by_id = {op.operation_id: op for op in spec.operations}
    planned: list[PlannedRequest] = []
    skipped: list[str] = []
    base = spec.base_path
    if requests:
        for index, item in enumerate(requests):
            if not isinstance(item, dict) or "operation_id" not in item:
                raise ConfigError(
                    f"requests[{index}] must be {{'operation_id': ..., 'arguments': {{...}}}}"
                )
            op_id = str(item["operation_id"])
            if op_id not in tools:
                known = ", ".join(list(tools)[:10])
                raise ConfigError(
                    f"requests[{index}]: unknown operation {op_id!r} (known: {known})"
                )
            http = tools[op_id].request(item.get("arguments") or {}, base)
            planned.append(_planned(op_id, http))
        return planned, skipped
    wanted_methods = {m.upper() for m in (methods or ["GET"])}
    if operations:
        unknown = [name for name in operations if name not in by_id]
        if unknown:
            raise ConfigError(
                f"unknown operation(s) {unknown}; known: {', '.join(list(by_id)[:15])}"
            )
    faker = SchemaFaker(spec.document, seed=seed)
    for op in spec.operations:
        if operations and op.operation_id not in operations:
            continue
        if not operations and op.method.upper() not in wanted_methods:
            continue
        tool = tools[op.operation_id]
        try:
            http = tool.request(_arguments(tool, op, faker), base)
        except ConfigError as exc:
            skipped.append(f"{op.operation_id}: no valid request could be built ({exc})")
            continue
        planned.append(_planned(op.operation_id, http))
    return planned, skipped


def _planned(operation_id: str, http: ApiToolRequest) -> PlannedRequest:
    return PlannedRequest(
        operation_id=operation_id,
        method=http.method,
        path=http.path,
        query=http.query,
        headers=http.headers,
        body=http.body.decode() if http.body is not None else None,
    )


def parse_body(raw: bytes, content_type: str) -> tuple[Any, bool]:
    """(the body, whether it is JSON): parsed JSON when it parses, else the text."""
    if not raw:
        return None, False
    if "json" in content_type.lower() or raw[:1] in (b"{", b"["):
        try:
            return orjson.loads(raw), True
        except orjson.JSONDecodeError:
            pass
    return raw.decode("utf-8", errors="replace"), False


def schema_errors(
    validator: SchemaValidator, op: Operation, side: SideResponse, raw_is_json: bool
) -> list[str]:
    """How one side's answer breaks the description: undocumented status, or schema errors."""
    status = side.status
    if status is None:
        return []
    code = str(status)
    response = (
        op.responses.get(code)
        or op.responses.get(f"{code[0]}XX")
        or op.responses.get(f"{code[0]}xx")
        or op.responses.get("default")
    )
    if response is None:
        documented = ", ".join(sorted(op.responses)) or "none"
        return [
            f"status {status} is not documented for {op.operation_id} (documented: {documented})"
        ]
    if not response.content:
        return []
    base_type = side.content_type.split(";", 1)[0].strip().lower()
    media = response.content.get(base_type) or next(
        (m for t, m in response.content.items() if "json" in t), None
    )
    if media is None or media.schema is None:
        return []
    if not raw_is_json:
        return [f"$: the body is not JSON (content-type {side.content_type or 'none'})"]
    return validator.errors(media.schema, side.body, direction="response", limit=20)


async def compare_requests(
    spec: ApiSpec,
    planned: list[PlannedRequest],
    mock_send: SendFunction,
    live_send: SendFunction,
    *,
    ignore_paths: list[str] | None = None,
    on_progress: Callable[[int, int, str], Awaitable[None]] | None = None,
) -> list[OperationComparison]:
    """Send each request to both sides (mock first) and compare the answers."""
    validator = SchemaValidator(spec.document)
    by_id = {op.operation_id: op for op in spec.operations}
    ignore = list(ignore_paths or [])
    results: list[OperationComparison] = []
    for index, request in enumerate(planned):
        http = request.to_http()
        mock = await mock_send(http)
        live = await live_send(http)
        op = by_id[request.operation_id]
        mock_errors = schema_errors(validator, op, mock, mock.is_json)
        live_errors = schema_errors(validator, op, live, live.is_json)
        diff = diff_json(mock.body, live.body, ignore)
        status_agrees = mock.status is not None and mock.status == live.status
        answered = mock.status is not None and live.status is not None
        if not answered:
            verdict = "error"
        elif not status_agrees or diff.structural or mock_errors or live_errors:
            verdict = "drift"
        elif diff.values:
            verdict = "value_drift"
        else:
            verdict = "match"
        results.append(
            OperationComparison(
                operation_id=request.operation_id,
                method=request.method,
                path=request.path,
                mock_status=mock.status,
                live_status=live.status,
                status_agrees=status_agrees,
                mock_conforms=None if mock.status is None else not mock_errors,
                live_conforms=None if live.status is None else not live_errors,
                mock_schema_errors=mock_errors,
                live_schema_errors=live_errors,
                structural_differences=[d.as_dict() for d in diff.structural],
                value_differences=[d.as_dict() for d in diff.values],
                differences_truncated=diff.truncated,
                mock_error=mock.error,
                live_error=live.error,
                mock_latency_ms=round(mock.latency_ms, 3),
                live_latency_ms=round(live.latency_ms, 3),
                verdict=verdict,
            )
        )
        if on_progress is not None:
            await on_progress(index + 1, len(planned), f"{request.method} {request.path}")
    return results


def http_sender(http: httpx.AsyncClient, base: str, extra: dict[str, str], auth: Any) -> Any:
    """An async function sending an `ApiToolRequest` to `base` and reading the answer."""

    async def send(request: ApiToolRequest) -> SideResponse:
        headers = {**request.headers, **extra}
        params = list(request.query)
        started = time.perf_counter()
        try:
            if auth is not None:
                await auth.apply(http, headers, params)
            response = await http.request(
                request.method,
                f"{base}{request.path}",
                params=tuple(params),
                headers=headers,
                content=request.body,
            )
        except (httpx.HTTPError, ServerError) as exc:
            detail = auth.scrub(str(exc)) if auth is not None else str(exc)
            return SideResponse(
                error=f"{type(exc).__name__}: {detail or 'no detail'}",
                latency_ms=(time.perf_counter() - started) * 1000.0,
            )
        content_type = response.headers.get("content-type", "")
        raw = response.content
        if auth is not None:
            raw = auth.scrub_bytes(raw)
        body, is_json = parse_body(raw, content_type)
        return SideResponse(
            status=response.status_code,
            content_type=content_type,
            body=body,
            is_json=is_json,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            mode=response.headers.get("x-mockloop-mode"),
        )

    return send
