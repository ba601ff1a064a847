"""The described API's operations as tools: a name from the operationId, a JSON schema of
arguments from the parameters and the request body, and the request a call becomes.

A call goes to the plugin's business port, so the plugin's mode decides who answers (the mock,
the live API, or a recording), exactly as for any other client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from jsonschema import Draft202012Validator

from mockloop.errors import ConfigError
from mockloop.spec import ApiSpec, Operation, Parameter

__all__ = ["ApiTool", "ApiToolRequest", "api_tools", "tool_name"]

_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_DEPTH = 6
_DROP_KEYS = frozenset({"discriminator", "xml", "externalDocs", "example", "examples"})


def tool_name(operation_id: str, prefix: str = "") -> str:
    """A tool name MCP clients accept ([A-Za-z0-9_-], at most 64 characters)."""
    name = _NAME.sub("_", operation_id).strip("_") or "operation"
    if prefix:
        name = f"{_NAME.sub('_', prefix).strip('_')}_{name}"
    return name[:64]


@dataclass(frozen=True, slots=True)
class ApiToolRequest:
    """The HTTP request one tool call becomes (path includes the base path and the query)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None


@dataclass(slots=True)
class ApiTool:
    """One operation of the description as a tool."""

    name: str
    operation_id: str
    method: str
    path: str
    description: str
    input_schema: dict[str, Any]
    arguments: dict[str, Parameter] = field(default_factory=dict)
    body_argument: str | None = None
    body_media_type: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "operation_id": self.operation_id,
            "method": self.method,
            "path": self.path,
            "description": self.description,
            "input_schema": self.input_schema,
        }

    def request(self, arguments: dict[str, Any] | None, base_path: str = "") -> ApiToolRequest:
        """The request for these arguments; ConfigError listing every argument problem."""
        args = dict(arguments or {})
        errors = sorted(
            Draft202012Validator(self.input_schema).iter_errors(args), key=lambda e: e.path
        )
        if errors:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message}"
                for e in errors[:10]
            )
            raise ConfigError(f"invalid arguments for {self.name}: {problems}")
        path = self.path
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        for arg, param in self.arguments.items():
            if arg not in args:
                continue
            value = args[arg]
            if param.location == "path":
                path = path.replace("{" + param.name + "}", quote(_text(value), safe=""))
            elif param.location == "query":
                values = value if isinstance(value, list) else [value]
                query.extend((param.name, _text(item)) for item in values)
            elif param.location == "header":
                headers[param.name] = _text(value)
            elif param.location == "cookie":
                cookie = f"{param.name}={_text(value)}"
                headers["cookie"] = (
                    f"{headers['cookie']}; {cookie}" if "cookie" in headers else cookie
                )
        body = None
        if self.body_argument is not None and self.body_argument in args:
            body = orjson.dumps(args[self.body_argument])
            headers["content-type"] = self.body_media_type or "application/json"
        return ApiToolRequest(self.method, f"{base_path}{path}", query, headers, body)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _resolve(node: Any, document: dict[str, Any], depth: int, for_request: bool) -> Any:
    """A self-contained copy of a schema: local `$ref`s inlined (bounded for recursion),
    OpenAPI-only keywords dropped, and readOnly properties left out of request bodies."""
    if isinstance(node, list):
        return [_resolve(item, document, depth, for_request) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if depth >= _MAX_DEPTH:
            return {"description": f"(nested {ref.rsplit('/', 1)[-1]}, not expanded)"}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _resolve(target or {}, document, depth + 1, for_request)
        return {**resolved, **_resolve(siblings, document, depth, for_request)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS or key.startswith("x-"):
            continue
        if key == "properties" and isinstance(value, dict):
            props = {}
            for name, schema in value.items():
                if for_request and isinstance(schema, dict) and schema.get("readOnly"):
                    continue
                props[name] = _resolve(schema, document, depth, for_request)
            out[key] = props
        else:
            out[key] = _resolve(value, document, depth, for_request)
    if for_request and isinstance(out.get("required"), list) and "properties" in out:
        out["required"] = [name for name in out["required"] if name in out["properties"]]
        if not out["required"]:
            del out["required"]
    return out


def _json_media(op: Operation) -> tuple[str, dict[str, Any] | None] | None:
    body = op.request_body
    if body is None or not body.content:
        return None
    for media_type, media in body.content.items():
        if "json" in media_type:
            return media_type, media.schema
    media_type, media = next(iter(body.content.items()))
    return media_type, media.schema


def _tool(op: Operation, spec: ApiSpec, prefix: str) -> ApiTool:
    document = spec.document
    properties: dict[str, Any] = {}
    required: list[str] = []
    arguments: dict[str, Parameter] = {}
    names = [p.name for p in op.parameters]
    for param in op.parameters:
        arg = param.name
        if names.count(param.name) > 1 or arg == "body":
            arg = f"{param.location}_{param.name}"
        schema = _resolve(param.schema or {}, document, 0, True)
        if param.description and "description" not in schema:
            schema = {**schema, "description": param.description}
        schema = {**schema, "description": f"({param.location}) {schema.get('description', '')}"}
        schema["description"] = schema["description"].strip()
        properties[arg] = schema
        arguments[arg] = param
        if param.required:
            required.append(arg)
    body_argument = media_type = None
    media = _json_media(op)
    if media is not None:
        media_type, schema = media
        body_argument = "body" if "body" not in properties else "request_body"
        body_schema = _resolve(schema or {}, document, 0, True)
        body_schema = {**body_schema, "description": f"the request body ({media_type})"}
        properties[body_argument] = body_schema
        if op.request_body is not None and op.request_body.required:
            required.append(body_argument)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    input_schema["additionalProperties"] = False
    summary = op.summary or op.description.split("\n", 1)[0] or op.operation_id
    description = f"{summary} ({op.method.upper()} {op.path} of {spec.title})"
    return ApiTool(
        name=tool_name(op.operation_id, prefix),
        operation_id=op.operation_id,
        method=op.method.upper(),
        path=op.path,
        description=description,
        input_schema=input_schema,
        arguments=arguments,
        body_argument=body_argument,
        body_media_type=media_type,
    )


def api_tools(spec: ApiSpec, prefix: str = "") -> list[ApiTool]:
    """One tool per operation, in document order (names made unique)."""
    tools: list[ApiTool] = []
    seen: set[str] = set()
    for op in spec.operations:
        tool = _tool(op, spec, prefix)
        base, counter = tool.name, 2
        while tool.name in seen:
            tool.name = f"{base[:60]}_{counter}"
            counter += 1
        seen.add(tool.name)
        tools.append(tool)
    return tools
