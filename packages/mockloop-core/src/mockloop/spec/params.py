"""Turning raw parameter strings (path, query, header, cookie) into typed values."""

from __future__ import annotations

import json
import re
from typing import Any

from mockloop.spec.model import Parameter

__all__ = ["coerce_parameter", "resolve_schema"]

_INTEGER = re.compile(r"^[+-]?\d+$")
_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|"}


def resolve_schema(schema: Any, document: dict[str, Any] | None, depth: int = 0) -> Any:
    """Follow local `$ref`s (and a nullable `anyOf` wrapper) to the schema that gives a type."""
    while isinstance(schema, dict) and "$ref" in schema and document is not None and depth < 20:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = document
        from urllib.parse import unquote

        for token in unquote(ref[2:]).split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                return schema
            node = node[token]
        schema = node
        depth += 1
    if isinstance(schema, dict) and "type" not in schema:
        for key in ("anyOf", "oneOf", "allOf"):
            branches = schema.get(key)
            if isinstance(branches, list):
                for branch in branches:
                    resolved = resolve_schema(branch, document, depth + 1)
                    if isinstance(resolved, dict) and resolved.get("type") not in (None, "null"):
                        return resolved
    return schema


def _kind(schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _scalar(value: str, schema: Any, document: dict[str, Any] | None) -> Any:
    kind = _kind(resolve_schema(schema, document))
    if kind == "integer" and _INTEGER.match(value.strip()):
        return int(value)
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if _INTEGER.match(value.strip()) else number
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind in ("object", "array"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if kind == "null" and value in ("", "null"):
        return None
    return value


def coerce_parameter(
    param: Parameter, raw: list[str], document: dict[str, Any] | None = None
) -> Any:
    """Typed value(s) for a parameter from its raw strings, following its schema and style.

    A value that cannot be converted stays a string, so validation reports the type error.
    """
    schema = resolve_schema(param.schema, document)
    if _kind(schema) == "array":
        items = schema.get("items", {}) if isinstance(schema, dict) else {}
        values = list(raw)
        if len(values) == 1:
            style = param.style or ("form" if param.location in ("query", "cookie") else "simple")
            explode = param.explode if param.explode is not None else style == "form"
            delimiter = _DELIMITERS.get(style, ",")
            if not explode or style in _DELIMITERS:
                values = values[0].split(delimiter) if values[0] else []
        return [_scalar(v, items, document) for v in values]
    if not raw:
        return None
    return _scalar(raw[0], schema, document)
