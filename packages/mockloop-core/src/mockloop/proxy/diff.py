"""Structural and value differences between two JSON documents, with ignore paths.

Paths read like JSONPath: `$`, `$.name`, `$.items[0].id`. An ignore pattern is either such a
path, where `[*]` stands for any index and `*` for any key (`$.items[*].created_at`), or a
bare field name (`created_at`), which ignores that field at any depth. An ignored path hides
everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Difference", "JsonDiff", "diff_json", "ignore_matcher", "json_type"]

_MAX_DIFFS = 200


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: where, what kind, and the two sides (values, or type names)."""

    path: str
    kind: str  # missing_in_mock, missing_in_live, type, value, length
    mock: Any = None
    live: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "mock": self.mock, "live": self.live}


@dataclass(slots=True)
class JsonDiff:
    """Structural differences (shape: keys and types) and value differences (same shape,
    other values, or arrays of other lengths)."""

    structural: list[Difference] = field(default_factory=list)
    values: list[Difference] = field(default_factory=list)
    truncated: bool = False


def json_type(value: Any) -> str:
    """The JSON type name of a value (integers and numbers both read as "number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    text = pattern.strip()
    if not text.startswith("$"):
        # A bare name: that key anywhere.
        return re.compile(r"^\$(?:.*)?\." + re.escape(text.lstrip(".")) + r"$")
    out = []
    index = 0
    while index < len(text):
        if text.startswith("[*]", index):
            out.append(r"\[\d+\]")
            index += 3
        elif text.startswith("..", index):
            out.append(r"(?:\..*)?\.")
            index += 2
        elif text[index] == "*":
            out.append(r"[^.\[]+")
            index += 1
        else:
            out.append(re.escape(text[index]))
            index += 1
    return re.compile("^" + "".join(out) + "$")


def ignore_matcher(patterns: Iterable[str]) -> Any:
    """A predicate telling whether a path is ignored by any pattern."""
    compiled = [_pattern_regex(p) for p in patterns if p and p.strip()]

    def ignored(path: str) -> bool:
        return any(regex.match(path) for regex in compiled)

    return ignored


def diff_json(mock: Any, live: Any, ignore: Iterable[str] = ()) -> JsonDiff:
    """Compare the mock's body with the live API's, leaving out ignored paths."""
    result = JsonDiff()
    ignored = ignore_matcher(ignore)
    _walk(mock, live, "$", result, ignored)
    return result


def _add(result: JsonDiff, bucket: list[Difference], diff: Difference) -> None:
    if len(result.structural) + len(result.values) >= _MAX_DIFFS:
        result.truncated = True
        return
    bucket.append(diff)


def _walk(mock: Any, live: Any, path: str, result: JsonDiff, ignored: Any) -> None:
    if ignored(path):
        return
    mock_type, live_type = json_type(mock), json_type(live)
    if mock_type != live_type:
        _add(result, result.structural, Difference(path, "type", mock_type, live_type))
        return
    if mock_type == "object":
        for key in mock:
            child = f"{path}.{key}"
            if key not in live:
                if not ignored(child):
                    _add(result, result.structural, Difference(child, "missing_in_live"))
            else:
                _walk(mock[key], live[key], child, result, ignored)
        for key in live:
            child = f"{path}.{key}"
            if key not in mock and not ignored(child):
                _add(result, result.structural, Difference(child, "missing_in_mock"))
        return
    if mock_type == "array":
        if len(mock) != len(live):
            _add(result, result.values, Difference(path, "length", len(mock), len(live)))
        for index in range(min(len(mock), len(live))):
            _walk(mock[index], live[index], f"{path}[{index}]", result, ignored)
        return
    if mock != live:
        _add(result, result.values, Difference(path, "value", mock, live))
