"""The business router: path templates compiled once into a segment tree.

Matching is a walk down the tree, one dict lookup per literal segment, so its cost does not
grow with the number of operations. Literal segments win over templated ones
(`/pets/mine` before `/pets/{petId}`). A template written with a query discriminator
(`/#Action=DescribeAlarms`, `/?Action=DescribeAlarms`, as AWS descriptions do) matches the path
before the marker when the request's query carries those values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from mockloop.spec.model import Operation

__all__ = ["Match", "Router", "split_template"]

_PARAM = re.compile(r"\{([^{}]+)\}")


def split_template(template: str) -> tuple[str, tuple[tuple[str, str | None], ...]]:
    """Split `/path#Action=X` or `/path?Action=X` into the path and its query discriminator.

    A bare name (`/events#fromTimeStamp&toTimeStamp`, as AWS descriptions write required
    query parameters) gives `(name, None)`: the parameter must be present, with any value.
    """
    for marker in ("#", "?"):
        if marker in template:
            path, _, rest = template.partition(marker)
            pairs: list[tuple[str, str | None]] = []
            for part in rest.split("&"):
                name, sep, value = part.partition("=")
                if name:
                    pairs.append((unquote(name), unquote(value) if sep else None))
            return (path or "/"), tuple(pairs)
    return template, ()


@dataclass(slots=True)
class _Candidate:
    operation: Operation
    param_names: tuple[str | None, ...]  # per segment: a whole-segment parameter name or None
    # for mixed segments like `{id}.json`: the segment's regex and its parameter names in order
    segment_patterns: tuple[tuple[re.Pattern[str], tuple[str, ...]] | None, ...]
    discriminator: tuple[tuple[str, str | None], ...]


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None  # a segment that is exactly one `{name}`
    mixed: list[tuple[re.Pattern[str], _Node]] = field(default_factory=list)
    methods: dict[str, list[_Candidate]] = field(default_factory=dict)


@dataclass(slots=True)
class Match:
    """The outcome of routing a request.

    Exactly one of: `operation` set (with `path_params`); `allowed` set (path known, method not:
    405); neither (404).
    """

    operation: Operation | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()


_NOT_FOUND = Match()


class Router:
    """Routes (method, path, query) to an operation of the description."""

    def __init__(self, operations: list[Operation], base_path: str = "") -> None:
        self._root = _Node()
        self._base_path = base_path.rstrip("/")
        for op in operations:
            self._add(op)

    def _add(self, op: Operation) -> None:
        path, discriminator = split_template(op.path)
        # A bare name that the operation declares as a header (or cookie) parameter is not a
        # query discriminator (`/me#Authentication`); request validation checks it instead.
        elsewhere = {p.name for p in op.parameters if p.location != "query"}
        discriminator = tuple(
            (name, value)
            for name, value in discriminator
            if value is not None or name not in elsewhere
        )
        node = self._root
        names: list[str | None] = []
        patterns: list[tuple[re.Pattern[str], tuple[str, ...]] | None] = []
        for segment in _segments(path):
            params = _PARAM.findall(segment)
            if not params:
                node = node.literal.setdefault(segment, _Node())
                names.append(None)
                patterns.append(None)
            elif _PARAM.fullmatch(segment):
                if node.param is None:
                    node.param = _Node()
                node = node.param
                names.append(params[0])
                patterns.append(None)
            else:
                regex = _mixed_segment_regex(segment)
                patterns.append((regex, tuple(params)))
                for existing, child in node.mixed:
                    if existing.pattern == regex.pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    node.mixed.append((regex, child))
                    node = child
                names.append(None)
        method = op.method.upper()
        candidates = node.methods.setdefault(method, [])
        candidates.append(_Candidate(op, tuple(names), tuple(patterns), discriminator))
        # Discriminated candidates are tried first; a plain one is the fallback.
        candidates.sort(key=lambda c: -len(c.discriminator))

    def match(self, method: str, raw_path: str, query: str = "") -> Match:
        """Route a request; `raw_path` is still percent-encoded so `%2F` stays in its segment."""
        result = self._match(method, raw_path, query)
        base = self._base_path
        if result is _NOT_FOUND and base and (raw_path == base or raw_path.startswith(base + "/")):
            result = self._match(method, raw_path[len(base) :] or "/", query)
        return result

    def _match(self, method: str, raw_path: str, query: str) -> Match:
        segments = [unquote(s) for s in _segments(raw_path)]
        node = _walk(self._root, segments, 0)
        if node is None:
            return _NOT_FOUND
        candidates = node.methods.get(method)
        if candidates is None and method == "HEAD":
            candidates = node.methods.get("GET")
        if candidates is None:
            return Match(allowed=tuple(sorted(node.methods)))
        chosen = _choose(candidates, query)
        if chosen is None:
            return _NOT_FOUND
        params: dict[str, str] = {}
        for index, name in enumerate(chosen.param_names):
            if name is not None:
                params[name] = segments[index]
            else:
                mixed = chosen.segment_patterns[index]
                if mixed is not None:
                    found = mixed[0].fullmatch(segments[index])
                    if found:
                        params.update(zip(mixed[1], found.groups(), strict=False))
        return Match(operation=chosen.operation, path_params=params)


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def _mixed_segment_regex(segment: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for found in _PARAM.finditer(segment):
        parts.append(re.escape(segment[position : found.start()]))
        parts.append("(.+?)")
        position = found.end()
    parts.append(re.escape(segment[position:]))
    return re.compile("".join(parts), re.DOTALL)  # a decoded %0A is still part of the value


def _walk(node: _Node, segments: list[str], index: int) -> _Node | None:
    if index == len(segments):
        return node if node.methods else None
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        found = _walk(child, segments, index + 1)
        if found is not None:
            return found
    for pattern, mixed_child in node.mixed:
        if pattern.fullmatch(segment):
            found = _walk(mixed_child, segments, index + 1)
            if found is not None:
                return found
    if node.param is not None and segment:
        return _walk(node.param, segments, index + 1)
    return None


def _choose(candidates: list[_Candidate], query: str) -> _Candidate | None:
    if len(candidates) == 1 and not candidates[0].discriminator:
        return candidates[0]
    pairs = set(parse_qsl(query, keep_blank_values=True)) if query else set()
    names = {name for name, _ in pairs}
    for candidate in candidates:
        if all(
            (name in names) if value is None else ((name, value) in pairs)
            for name, value in candidate.discriminator
        ):
            return candidate
    return None
