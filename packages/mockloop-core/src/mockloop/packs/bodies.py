"""Bodies a pack builds at apply time from the operation's own schemas.

Problem documents (RFC 9457), the documented success response with every string replaced by
attack payloads, edge values (empty collections, boundary numbers, long and non-ASCII strings,
nulls), malformed variants (wrong types, a missing-everything object, truncated JSON) and a
422 validation problem listing the operation's required inputs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from mockloop.fake import SchemaFaker
from mockloop.packs.models import BodyFrom
from mockloop.spec.model import ApiSpec, Operation

__all__ = ["BodyBuilder", "resolve_schema"]

_UNICODE = (
    "Zoë Ångström",
    "日本語テキスト",
    "עברית ومرحبا",
    "🐶🐱 emoji",
    "zero\u200bwidth",
    "e\u0301",
)
_MAX_DEPTH = 12


def resolve_schema(document: dict[str, Any], schema: Any) -> Any:
    """`schema` with its local `$ref`s followed (at most 32 deep)."""
    depth = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 32:
        target: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            target = target.get(key, {}) if isinstance(target, dict) else {}
        schema, depth = target, depth + 1
    return schema


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


class BodyBuilder:
    """Builds the bodies of one pack for one description (deterministic for a seed)."""

    def __init__(self, spec: ApiSpec, payloads: dict[str, list[str]], seed: int = 0) -> None:
        self.spec = spec
        self.faker = SchemaFaker(spec.document, seed=seed)
        self.payloads = payloads
        self._cycles: dict[str, Iterator[str]] = {}

    def build(self, body: BodyFrom, op: Operation, status: int | None) -> Any:
        """The body `body` describes, for `op` answering `status`."""
        if body.kind == "problem":
            return self.problem(body, op, status)
        if body.kind == "validation":
            return self.validation(body, op, status or 422)
        value = self.success_value(op)
        if body.kind == "payloads":
            return self.with_payloads(value, body.payloads or "")
        if body.kind == "edge":
            return self.edge(value, self.success_schema(op), body.variant or "empty", 0)
        return self.malformed(value, body.variant or "wrong_types")

    # -- the pieces --------------------------------------------------------------------------

    def next_payload(self, name: str) -> str:
        """The next payload of a list, in turn."""
        if name not in self._cycles:
            self._cycles[name] = itertools.cycle(self.payloads.get(name) or ["<payload>"])
        return next(self._cycles[name])

    def problem(self, body: BodyFrom, op: Operation, status: int | None) -> dict[str, Any]:
        detail = body.detail or f"{op.method.upper()} {op.path} failed"
        if body.payloads:
            detail = self.next_payload(body.payloads)
        return {
            "type": "about:blank",
            "title": body.title,
            "status": status or 500,
            "detail": detail,
            "instance": op.path,
            **body.extra,
        }

    def validation(self, body: BodyFrom, op: Operation, status: int) -> dict[str, Any]:
        errors = []
        for param in op.parameters:
            if param.required and param.location in ("query", "header"):
                errors.append(
                    {"field": f"{param.location}.{param.name}", "message": "is not acceptable"}
                )
        schema = self.request_schema(op)
        resolved = self.resolve(schema)
        required = resolved.get("required") if isinstance(resolved, dict) else None
        for name in required or []:
            errors.append({"field": f"body.{name}", "message": "failed a business rule"})
        if not errors:
            for name in list((resolved or {}).get("properties") or {})[:2]:
                errors.append({"field": f"body.{name}", "message": "failed a business rule"})
        if not errors:
            errors.append({"field": "body", "message": "the request failed a business rule"})
        return {
            "type": "about:blank",
            "title": body.title or "Unprocessable Content",
            "status": status,
            "detail": body.detail or f"{len(errors)} field(s) failed validation",
            "instance": op.path,
            "errors": errors,
        }

    def success_schema(self, op: Operation) -> Any:
        """The JSON schema of the first documented 2xx (or default) response, or None."""
        keys = [*sorted(k for k in op.responses if k.startswith("2")), "default"]
        for key in keys:
            response = op.responses.get(key)
            if response is None:
                continue
            for media, content in response.content.items():
                if _is_json(media) and content.schema is not None:
                    return content.schema
        return None

    def request_schema(self, op: Operation) -> Any:
        if op.request_body is None:
            return None
        for media, content in op.request_body.content.items():
            if _is_json(media) and content.schema is not None:
                return content.schema
        return None

    def success_value(self, op: Operation) -> Any:
        schema = self.success_schema(op)
        if schema is None:
            return {"id": 1, "name": "sample", "description": "sample text"}
        return self.faker.generate(schema, key=f"pack:{op.operation_id}")

    def resolve(self, schema: Any) -> Any:
        return resolve_schema(self.spec.document, schema)

    def with_payloads(self, value: Any, name: str, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.next_payload(name)
        if depth < _MAX_DEPTH and isinstance(value, dict):
            replaced = {k: self.with_payloads(v, name, depth + 1) for k, v in value.items()}
            if not _has_string(replaced):
                replaced["message"] = self.next_payload(name)
            return replaced
        if depth < _MAX_DEPTH and isinstance(value, list):
            items = [self.with_payloads(v, name, depth + 1) for v in value]
            return items if _has_string(items) else [*items, self.next_payload(name)]
        if depth == 0:
            return {"value": value, "message": self.next_payload(name)}
        return value

    def edge(self, value: Any, schema: Any, variant: str, depth: int) -> Any:
        schema = self.resolve(schema)
        schema = schema if isinstance(schema, dict) else {}
        if depth >= _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            props = _properties(self, schema)
            return {k: self.edge(v, props.get(k), variant, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            if variant == "empty":
                return []
            items = schema.get("items")
            return [self.edge(v, items, variant, depth + 1) for v in value[:3]]
        if variant == "nulls":
            return None if depth > 0 else value
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            return _boundary(value, schema) if variant == "boundaries" else value
        if isinstance(value, str):
            if variant == "empty":
                return ""
            if variant == "unicode":
                return _UNICODE[depth % len(_UNICODE)]
            length = schema.get("maxLength")
            return "x" * (length if isinstance(length, int) and length <= 65536 else 4096)
        return value

    def malformed(self, value: Any, variant: str) -> Any:
        if variant == "empty_object":
            return {}
        if variant == "truncated":
            text = json.dumps(value)
            return text[: max(1, len(text) // 2)]
        return _wrong_types(value, 0)


def _properties(builder: BodyBuilder, schema: dict[str, Any]) -> dict[str, Any]:
    found = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        resolved = builder.resolve(part)
        if isinstance(resolved, dict):
            found.update(resolved.get("properties") or {})
    return found


def _boundary(value: int | float, schema: dict[str, Any]) -> int | float:
    high = schema.get("maximum")
    if isinstance(high, int | float) and not isinstance(high, bool):
        return high
    exclusive = schema.get("exclusiveMaximum")
    if isinstance(exclusive, int | float) and not isinstance(exclusive, bool):
        return exclusive - 1 if isinstance(value, int) else exclusive - 1e-9
    return 2**53 - 1 if isinstance(value, int) else 1.7976931348623157e308


def _wrong_types(value: Any, depth: int) -> Any:
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _wrong_types(v, depth + 1) for k, v in value.items()} or []
    if isinstance(value, list):
        return {"items": [_wrong_types(v, depth + 1) for v in value[:3]]}
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value} (not a number)"
    if isinstance(value, str):
        return len(value)
    return "null"


def _has_string(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(_has_string(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_string(v) for v in value)
    return False
