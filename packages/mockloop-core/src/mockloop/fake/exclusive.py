"""Editing a generated `oneOf` object so that exactly one branch accepts it.

Overlapping branches accept the same object: JSON:API resource objects that all require `type`
and `id` and differ only in optional properties, with no `additionalProperties: false`, accept
whatever one of them generates, so retrying cannot help. After generating from branch *i*, each
other branch *j* that still accepts the value is excluded by one small edit that *i* allows and
*j* refuses, tried in this order:

1. drop a property *j* requires and *i* does not;
2. give a property whose value *j* restricts (`const`, `enum`) a value *i* allows and *j* does not;
3. add a property *j* types and *i* leaves open, with a value of a type *j* refuses;
4. add a key *j* closes over (`additionalProperties: false`) when *i* is open.

Every edit is checked (the value must stay valid under *i* and whatever the schema around the
`oneOf` says) and the whole is re-checked against every branch, a bounded number of rounds.
The edits use no randomness, so the same seed still gives the same value, and they add at most
the room the caller has left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

__all__ = ["exclusive_object"]

Accepts = Callable[[Any, Any], bool]
"""Whether a schema (first argument) accepts a value (second)."""
Effective = Callable[[Any], dict[str, Any]]
"""A schema with `$ref`s resolved and `allOf` merged."""

# Small values of every JSON type: one of them is refused by any schema that types a property.
_ODD_VALUES: tuple[Any, ...] = ("x", 0, True, None, [], {})
_EXTRA_KEY = "x-mockloop-variant"


def exclusive_object(
    value: dict[str, Any],
    home: Any,
    others: list[Any],
    *,
    accepts: Accepts,
    effective: Effective,
    room: int,
    keep: Any = None,
) -> tuple[dict[str, Any], int] | None:
    """`value` edited so that `home` accepts it and none of `others` do, with the bytes added.

    Args:
        value: the object generated from `home` (not modified).
        home: the `oneOf` branch the value was made from.
        others: the other branches.
        accepts: the validity check (the faker's, forgiving what OpenAPI forgives).
        effective: the faker's effective-schema lookup.
        room: bytes of JSON the edits may add in all.
        keep: the keywords next to the `oneOf`, which the value must still satisfy.

    Returns None when `home` does not accept the value or no edit separates it from a rival.
    """
    if not accepts(home, value):
        return None
    home_eff = effective(home)
    current, added = value, 0
    for _ in range(len(others) + 1):
        rival = next((other for other in others if accepts(other, current)), None)
        if rival is None:
            return current, added
        for candidate, cost in _edits(current, home_eff, effective(rival)):
            if added + cost > room:
                continue
            if (
                not accepts(rival, candidate)
                and accepts(home, candidate)
                and (keep is None or accepts(keep, candidate))
            ):
                current, added = candidate, added + cost
                break
        else:
            return None
    return None


def _edits(
    value: dict[str, Any], home: dict[str, Any], rival: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], int]]:
    """Candidate edits of `value` (copies) that `rival` may refuse, with their cost in bytes."""
    home_props = _props(home)
    rival_props = _props(rival)
    home_required = set(_strings(home.get("required")))
    for name in _strings(rival.get("required")):
        if name in value and name not in home_required:
            yield {k: v for k, v in value.items() if k != name}, -_size(name, value[name])
    for name, schema in rival_props.items():
        if name in value and isinstance(schema, dict):
            for other in _other_values(value[name], schema, home_props.get(name)):
                cost = _size(name, other) - _size(name, value[name])
                yield {**value, name: other}, cost
    if home.get("additionalProperties") is False:
        return
    for name in rival_props:
        if name not in value and name not in home_props:
            # Every odd value is offered; the caller's checks keep one the rival refuses.
            for odd in _ODD_VALUES:
                yield {**value, name: odd}, _size(name, odd)
    if rival.get("additionalProperties") is False:
        key = _EXTRA_KEY
        while key in rival_props or key in home_props or key in value:
            key += "-"
        for odd in _ODD_VALUES:
            yield {**value, key: odd}, _size(key, odd)


def _other_values(current: Any, rival: dict[str, Any], home: Any) -> Iterator[Any]:
    """Values for a property the rival restricts by `const` or `enum`, other than its own."""
    allowed: list[Any] = []
    if "const" in rival:
        allowed.append(rival["const"])
    if isinstance(rival.get("enum"), list):
        allowed.extend(rival["enum"])
    if not allowed:
        return
    if isinstance(home, dict) and isinstance(home.get("enum"), list):
        yield from (v for v in home["enum"] if v not in allowed)
        return
    if isinstance(current, bool):
        yield not current
    elif isinstance(current, (int, float)):
        yield current + 1
    elif isinstance(current, str):
        yield f"{current}-other" if current else "other"


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _size(name: str, value: Any) -> int:
    """The JSON bytes a `"name": value` member takes, with its comma."""
    try:
        return len(name) + 4 + len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return len(name) + 4 + len(repr(value))
