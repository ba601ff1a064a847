"""Context values as stored: JSON with a type tag for what JSON cannot say on its own.

Context data may hold any JSON value plus `datetime`, `date` and `time` objects (a workflow
step's `datetime.now()`). Those are stored as ISO 8601 text inside a tagged object,
`{"__mockloop_type__": "datetime", "value": "2026-12-01T15:30:00.123456"}`, and decoded back
to the same Python object, naive or aware as it was given. A user's own object that happens to
use the tag key is wrapped (`"object"`) so that it comes back unchanged too.

Other values pydantic can render as JSON (UUID, Decimal, Enum, tuples, sets, pydantic models,
dataclasses) are stored as that JSON and come back in that form (a UUID as its text, a tuple
as a list). Values without a faithful JSON form are refused: mapping keys that are not text,
NaN and infinities, objects pydantic cannot render.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

import orjson
from pydantic_core import to_jsonable_python

from mockloop.errors import ConfigError

__all__ = ["TYPE_TAG", "decode_value", "dumps", "encode_value", "loads"]

TYPE_TAG = "__mockloop_type__"
_MAX_DEPTH = 64


def encode_value(value: Any, where: str = "data", _depth: int = 0) -> Any:
    """`value` as tagged JSON-ready data; ConfigError naming `where` when it cannot be stored."""
    if _depth > _MAX_DEPTH:
        raise ConfigError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise ConfigError(f"{where}: {value} is beyond 64 bits; store it as a string")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} has no JSON form; store a number or a string")
        return value
    # datetime before date: a datetime is a date too.
    if isinstance(value, datetime):
        return {TYPE_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {TYPE_TAG: "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {TYPE_TAG: "time", "value": value.isoformat()}
    if isinstance(value, dict):
        encoded: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{where}: key {key!r} is a {type(key).__name__}; context data keys must be "
                    "strings (JSON objects have text keys only)"
                )
            encoded[key] = encode_value(item, f"{where}.{key}", _depth + 1)
        if TYPE_TAG in encoded:
            return {TYPE_TAG: "object", "value": encoded}
        return encoded
    if isinstance(value, list | tuple):
        return [encode_value(item, f"{where}[{i}]", _depth + 1) for i, item in enumerate(value)]
    try:
        plain = to_jsonable_python(value)
    except Exception as exc:  # pydantic raises several kinds for what it cannot render
        raise ConfigError(
            f"{where}: a {type(value).__name__} cannot be stored as JSON ({exc}); store JSON "
            "values (text, numbers, booleans, null, lists, objects) or datetimes"
        ) from None
    return encode_value(plain, where, _depth + 1)


def decode_value(value: Any) -> Any:
    """The Python value `encode_value` stored (datetimes back as datetimes)."""
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TYPE_TAG)
    if tag is not None and len(value) == 2 and "value" in value:
        inner = value["value"]
        if tag == "datetime":
            return datetime.fromisoformat(inner)
        if tag == "date":
            return date.fromisoformat(inner)
        if tag == "time":
            return time.fromisoformat(inner)
        if tag == "object":
            return {key: decode_value(item) for key, item in inner.items()}
    return {key: decode_value(item) for key, item in value.items()}


def dumps(value: Any) -> str:
    """Already encoded data as compact JSON text (keys in the order given)."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """Stored JSON text as the encoded (still tagged) data."""
    return orjson.loads(text)
