"""The request mix of a load run: from explicit endpoints, or from a description's operations.

Endpoints are `"GET /pets?limit=5"` / `"/pets"` strings or objects `{"path": "/pets",
"method": "GET", "weight": 3, "headers": {...}, "body": {...}, "name": "list pets"}`. From a
description, each chosen operation becomes one entry whose path, required query, header and
cookie parameters (and JSON body, for operations that take one) are generated from their
schemas, several variants per operation used in turn. Paths are relative to the target URL.
"""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import quote, urlencode

import orjson
from pydantic import BaseModel, ConfigDict, Field

from mockloop.errors import ConfigError
from mockloop.load.plan import RequestTemplate
from mockloop.spec.model import ApiSpec, Operation

__all__ = ["LoadEndpoint", "templates_from_endpoints", "templates_from_spec"]

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_ENDPOINT_KEYS = {"path", "method", "weight", "headers", "body", "name"}
_VARIANTS = 8
_PLACEHOLDER = "mockloop-load"


class LoadEndpoint(BaseModel):
    """One entry of a load run's request mix (the published shape of an `endpoints` object).

    `"GET /pets?limit=5"` as a string is the same as {"method": "GET", "path":
    "/pets?limit=5"}; a bare "/pets" is a GET.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "path": "/pets",
                    "method": "POST",
                    "weight": 2,
                    "headers": {"Authorization": "Bearer test-token"},
                    "body": {"name": "Rex"},
                    "name": "create pet",
                }
            ]
        },
    )

    path: str = Field(
        pattern="^/",
        description="the path relative to the target URL, with any query string, e.g. "
        "/pets?limit=5 (no spaces: percent-encode them)",
    )
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        default="GET", description="the HTTP method"
    )
    weight: float = Field(
        default=1, gt=0, description="its share of the mix relative to the other entries"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="request headers")
    body: Any = Field(
        default=None,
        description="the request body: a string is sent as is, any other JSON value as JSON",
    )
    name: str | None = Field(
        default=None, description='its name in the result (default "METHOD path"); unique'
    )


def _body_bytes(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return orjson.dumps(body)


def _endpoint(entry: Any, index: int) -> RequestTemplate:
    if isinstance(entry, str):
        method, _, path = entry.strip().partition(" ")
        if not path:
            method, path = "GET", method
        entry = {"method": method, "path": path.strip()}
    if not isinstance(entry, dict):
        raise ConfigError(
            f"endpoints[{index}] must be 'METHOD /path' or an object with a path, got "
            f"{type(entry).__name__}"
        )
    unknown = set(entry) - _ENDPOINT_KEYS
    if unknown:
        raise ConfigError(
            f"endpoints[{index}]: unknown key(s) {sorted(unknown)}; known: {sorted(_ENDPOINT_KEYS)}"
        )
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(f"endpoints[{index}]: path must start with '/', got {path!r}")
    if any(ch in path for ch in " \r\n"):
        raise ConfigError(f"endpoints[{index}]: path {path!r} has spaces; percent-encode them")
    method = str(entry.get("method", "GET")).upper()
    if method not in _METHODS:
        raise ConfigError(f"endpoints[{index}]: unknown method {method!r}; use {sorted(_METHODS)}")
    weight = entry.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(f"endpoints[{index}]: weight must be a number above 0, got {weight!r}")
    headers = entry.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(f"endpoints[{index}]: headers must map names to string values")
    headers = dict(headers)
    body = _body_bytes(entry.get("body"), headers)
    return RequestTemplate(
        name=str(entry.get("name") or f"{method} {path}"),
        method=method,
        targets=[path],
        weight=float(weight),
        headers=headers,
        body=body,
        path_template=path.split("?", 1)[0],
    )


def templates_from_endpoints(endpoints: list[Any]) -> list[RequestTemplate]:
    """The mix from explicit endpoints; ConfigError naming the first bad entry."""
    if not isinstance(endpoints, list) or not endpoints:
        raise ConfigError("endpoints must be a non-empty list of 'METHOD /path' or objects")
    templates = [_endpoint(entry, index) for index, entry in enumerate(endpoints)]
    names = [t.name for t in templates]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"endpoints: {name!r} is listed twice; merge them with a weight")
    return templates


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def _credentials(spec: ApiSpec, op: Operation, headers: dict[str, str], query: list) -> None:
    """Well-formed placeholder credentials for the first security requirement (a MockLoop mock
    checks that credentials are present and well formed, not their value)."""
    requirement = op.security[0] if op.security else {}
    for name in requirement:
        scheme = spec.security_schemes.get(name)
        if scheme is None:
            continue
        if scheme.type == "apiKey" and scheme.param_name:
            if scheme.location == "query":
                query.append((scheme.param_name, _PLACEHOLDER))
            elif scheme.location == "cookie":
                headers["Cookie"] = f"{scheme.param_name}={_PLACEHOLDER}"
            else:
                headers[scheme.param_name] = _PLACEHOLDER
        elif scheme.type == "http" and (scheme.scheme or "").lower() == "basic":
            token = base64.b64encode(b"mockloop:load").decode()
            headers["Authorization"] = f"Basic {token}"
        else:
            headers["Authorization"] = f"Bearer {_PLACEHOLDER}"


def _variant(
    spec: ApiSpec, op: Operation, faker: Any, number: int, credentials: bool
) -> tuple[str, dict[str, str], bytes | None]:
    path = op.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for param in op.parameters:
        if param.location != "path" and not param.required:
            continue
        key = f"load:{op.operation_id}:{param.location}:{param.name}:{number}"
        value = faker.generate(param.schema, key=key, field_name=param.name, for_response=False)
        if param.location == "path":
            path = path.replace("{" + param.name + "}", quote(_text(value), safe=""))
        elif param.location == "query":
            values = value if isinstance(value, list) else [value]
            query.extend((param.name, _text(v)) for v in values)
        elif param.location == "header":
            headers[param.name] = _text(value)
        else:
            cookies.append(f"{param.name}={quote(_text(value), safe='')}")
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    if credentials and op.security:
        _credentials(spec, op, headers, query)
    body = None
    if op.request_body is not None:
        media = op.request_body.content.get("application/json")
        if media is not None and media.schema is not None:
            data = faker.generate(
                media.schema, key=f"load:{op.operation_id}:body:{number}", for_response=False
            )
            body = orjson.dumps(data)
            headers["Content-Type"] = "application/json"
    target = path + ("?" + urlencode(query) if query else "")
    return target, headers, body


def templates_from_spec(
    spec: ApiSpec,
    *,
    operation_ids: set[str] | None = None,
    credentials: bool = False,
    seed: int = 0,
) -> tuple[list[RequestTemplate], list[str]]:
    """The mix from a description, and notes on what was left out.

    Without `operation_ids` every GET operation is taken; with them, exactly those (of any
    method). `credentials`: add placeholder credentials where the operation requires some
    (for MockLoop mocks, which check their form only).
    """
    from mockloop.fake import SchemaFaker

    faker = SchemaFaker(spec.document, seed=seed)
    templates: list[RequestTemplate] = []
    notes: list[str] = []
    for op in spec.operations:
        if operation_ids is not None:
            if op.operation_id not in operation_ids:
                continue
        elif op.method.upper() != "GET":
            continue
        if "#" in op.path:
            notes.append(f"{op.operation_id}: a query-discriminated path is not load tested")
            continue
        if (
            op.request_body is not None
            and op.request_body.required
            and not any(
                m.schema is not None
                for k, m in op.request_body.content.items()
                if k == "application/json"
            )
        ):
            notes.append(f"{op.operation_id}: needs a non-JSON body; left out")
            continue
        variants = [_variant(spec, op, faker, n, credentials) for n in range(_VARIANTS)]
        # Variants share headers and body shape; the path and query vary.
        targets = list(dict.fromkeys(v[0] for v in variants))
        headers, body = variants[0][1], variants[0][2]
        templates.append(
            RequestTemplate(
                name=op.operation_id,
                method=op.method.upper(),
                targets=targets,
                headers=headers,
                body=body,
                path_template=op.path,
            )
        )
        if op.security and not credentials and op.security[0]:
            notes.append(
                f"{op.operation_id} requires credentials the load does not send; give "
                "endpoints with headers to authenticate"
            )
    return templates, notes
