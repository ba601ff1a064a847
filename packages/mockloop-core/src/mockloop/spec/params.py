"""Turning raw parameter strings (path, query, header, cookie) into typed values.

OpenAPI serialises a parameter by its `style` and `explode`: `?id=1&id=2` (form, exploded),
`?id=1,2` (form), `?id=1%202` (spaceDelimited), `?id=1|2` (pipeDelimited), `1,2` in a path or
a header (simple), `.1.2` (label), `;id=1,2` (matrix), `?filter[name]=x` (deepObject). The
functions here undo that, guided by the parameter's schema; whatever cannot be converted stays a
string, so the validator reports the type error instead of this module guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from mockloop.spec.model import Parameter

__all__ = ["coerce_parameter", "query_values", "resolve_schema", "split_cookie_header"]

_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|"}
_MAX_DEPTH = 20


def resolve_schema(schema: Any, document: dict[str, Any] | None, depth: int = 0) -> Any:
    """Follow local `$ref`s (and a nullable `anyOf` wrapper) to the schema that gives a type."""
    while isinstance(schema, dict) and "$ref" in schema and document is not None:
        ref = schema["$ref"]
        if depth >= _MAX_DEPTH or not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = document
        for token in unquote(ref[2:]).split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                return schema
            node = node[token]
        schema = node
        depth += 1
    if isinstance(schema, dict) and "type" not in schema and depth < _MAX_DEPTH:
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
    if kind is None and isinstance(schema.get("properties"), dict):
        return "object"
    return kind if isinstance(kind, str) else None


def _nullable(schema: Any) -> bool:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def _scalar(value: str, schema: Any, document: dict[str, Any] | None) -> Any:
    schema = resolve_schema(schema, document)
    kind = _kind(schema)
    text = value.strip()
    if value == "null" and _nullable(schema):
        return None
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind == "number" and _NUMBER.match(text):
        return int(text) if _INTEGER.match(text) else float(text)
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind in ("object", "array") and text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def _style(param: Parameter) -> tuple[str, bool]:
    style = param.style or ("form" if param.location in ("query", "cookie") else "simple")
    explode = param.explode if param.explode is not None else style == "form"
    return style, explode


def _unprefix(value: str, param: Parameter, style: str) -> str:
    """Strip the `.` of label style and the `;name=` of matrix style."""
    if style == "label" and value.startswith("."):
        return value[1:]
    if style == "matrix" and value.startswith(";"):
        value = value[1:]
        prefix = param.name + "="
        return value[len(prefix) :] if value.startswith(prefix) else value
    return value


def _separator(style: str, explode: bool) -> str:
    if style in _DELIMITERS:
        return _DELIMITERS[style]
    if style == "label" and explode:
        return "."
    if style == "matrix" and explode:
        return ";"
    return ","


def _array(
    param: Parameter, raw: list[str], schema: dict[str, Any], document: dict[str, Any] | None
) -> list[Any]:
    style, explode = _style(param)
    items = schema.get("items", {})
    values = list(raw)
    # Exploded form sends `?id=1&id=2`: already one value each; every other style joins them.
    if len(values) == 1 and not (style == "form" and explode):
        if style == "matrix" and explode:  # ;p=1;p=2
            text = values[0].removeprefix(";")
            values = [part.partition("=")[2] for part in text.split(";")] if text else []
        else:
            text = _unprefix(values[0], param, style)
            values = text.split(_separator(style, explode)) if text else []
    return [_scalar(v, items, document) for v in values]


def _object(
    param: Parameter, raw: list[str], schema: dict[str, Any], document: dict[str, Any] | None
) -> Any:
    if len(raw) == 1 and raw[0].lstrip().startswith("{"):
        return _scalar(raw[0], schema, document)  # JSON in a parameter, common in practice
    style, explode = _style(param)
    pairs: list[tuple[str, str]] = []
    if all("=" in value for value in raw) and (len(raw) > 1 or style in ("form", "deepObject")):
        pairs = [(k, v) for k, _, v in (value.partition("=") for value in raw)]
    elif len(raw) == 1:
        text = _unprefix(raw[0], param, style)
        parts = text.split(_separator(style, explode)) if text else []
        if parts and all("=" in part for part in parts):  # simple/label exploded: a=1,b=2
            pairs = [(k, v) for k, _, v in (part.partition("=") for part in parts)]
        elif len(parts) % 2 == 0:  # a,1,b,2
            pairs = list(zip(parts[::2], parts[1::2], strict=True))
        else:
            return raw[0]
    else:
        return raw[0]
    declared = schema.get("properties")
    properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
    extra = schema.get("additionalProperties")
    result: dict[str, Any] = {}
    for key, value in pairs:
        sub = properties.get(key, extra if isinstance(extra, dict) else {})
        result[key] = _scalar(value, sub, document)
    return result


def coerce_parameter(
    param: Parameter, raw: list[str], document: dict[str, Any] | None = None
) -> Any:
    """Typed value(s) for a parameter from its raw strings, following its schema and style.

    Args:
        param: the parameter; its schema decides the type, its style/explode the splitting.
        raw: every raw value the request carried for it, in order (`?id=1&id=2` gives two).
            For an object in deepObject or exploded form style, pass `key=value` strings
            (`query_values` gathers them from a query string).
        document: the `ApiSpec.document`, to follow `$ref`s in the parameter's schema.

    Returns:
        An int, float, bool, list or dict where the text allows it; otherwise the raw string
        (a list of strings for arrays), so that validation reports the type error. None when
        `raw` is empty.
    """
    schema = resolve_schema(param.schema, document)
    kind = _kind(schema)
    if kind == "array" and isinstance(schema, dict):
        return _array(param, raw, schema, document)
    if not raw:
        return None
    if kind == "object" and isinstance(schema, dict):
        return _object(param, raw, schema, document)
    style, _ = _style(param)
    return _scalar(_unprefix(raw[0], param, style), schema, document)


def query_values(
    param: Parameter, pairs: Iterable[tuple[str, str]], document: dict[str, Any] | None = None
) -> list[str]:
    """The raw values of one query parameter among the decoded `(name, value)` pairs.

    Plain parameters give the values sent under their name. A deepObject parameter gives
    `key=value` for each `name[key]=value`; an exploded form object gives `key=value` for
    each pair whose name is one of its properties (`?color=red&size=2`).
    """
    style, explode = _style(param)
    pairs = list(pairs)
    if style == "deepObject":
        prefix = param.name + "["
        return [
            f"{name[len(prefix) : -1]}={value}"
            for name, value in pairs
            if name.startswith(prefix) and name.endswith("]")
        ]
    values = [value for name, value in pairs if name == param.name]
    schema = resolve_schema(param.schema, document)
    if not values and style == "form" and explode and _kind(schema) == "object":
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if isinstance(properties, dict):
            return [f"{name}={value}" for name, value in pairs if name in properties]
    return values


def split_cookie_header(header: str) -> dict[str, str]:
    """`a=1; b="two"` -> {"a": "1", "b": "two"}; the first occurrence of a name wins."""
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, found, value = part.partition("=")
        name = name.strip()
        if not found or not name or name in cookies:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
    return cookies
