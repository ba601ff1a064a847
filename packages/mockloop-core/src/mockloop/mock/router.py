"""The business router: path templates compiled once into a segment tree.

Matching is a walk down the tree, one dict lookup per literal segment, so its cost does not
grow with the number of operations. Literal segments win over templated ones
(`/pets/mine` before `/pets/{petId}`), but only while the literal branch has the request's
method: `GET /users/me` reaches `/users/{id}` when `/users/me` documents only `PUT`. A 405
lists the methods of every branch that matches the path.

A template written with a query discriminator (`/#Action=DescribeAlarms`,
`/rest?method=flickr.photos.search`, as AWS and Flickr descriptions do) matches the path before
the marker when the request's query carries those values; the most specific key wins, then the
plain path. With no plain path, a request that carries none of the discriminating names gets the
first documented key (clients that send only the declared query parameters), and one that
carries a discriminating name with an undocumented value gets a 404 naming the documented
values. A key percent-encoded into the path (`/rest%3Fmethod%3Dflickr.photos.search`, as
`urllib.parse.quote` writes it) is split at the encoded `?` when the path does not route as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from mockloop.spec.model import Operation

__all__ = ["Match", "Router", "split_template"]

_PARAM = re.compile(r"\{([^{}]+)\}")
_ENCODED_QUESTION = re.compile("%3f", re.IGNORECASE)


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
    order: int  # the operation's place in the description: the first documented key wins


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
    405); neither (404, with `detail` saying why when a query discriminator refused it).
    `query` is set when routing moved part of the path into the query (an encoded `?`): the
    request's query as the operation sees it.
    """

    operation: Operation | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()
    detail: str = ""
    query: str | None = None


_NOT_FOUND = Match()


class Router:
    """Routes (method, path, query) to an operation of the description."""

    def __init__(self, operations: list[Operation], base_path: str = "") -> None:
        self._root = _Node()
        self._base_path = base_path.rstrip("/")
        for order, op in enumerate(operations):
            self._add(op, order)

    def _add(self, op: Operation, order: int) -> None:
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
        candidates.append(_Candidate(op, tuple(names), tuple(patterns), discriminator, order))
        # The most specific discriminator is tried first; a plain candidate is the fallback.
        candidates.sort(key=lambda c: (-len(c.discriminator), c.order))

    def match(self, method: str, raw_path: str, query: str = "") -> Match:
        """Route a request; `raw_path` is still percent-encoded so `%2F` stays in its segment."""
        result = self._match(method, raw_path, query)
        if result.operation is not None:
            return result
        base = self._base_path
        if result is _NOT_FOUND and base and (raw_path == base or raw_path.startswith(base + "/")):
            result = self._match(method, raw_path[len(base) :] or "/", query)
        if result.operation is None and "%3" in raw_path:
            return self._match_encoded_query(method, raw_path, query, result)
        return result

    def _match_encoded_query(self, method: str, raw_path: str, query: str, unsplit: Match) -> Match:
        """Route a key percent-encoded into the path: what follows the encoded `?` is query."""
        cut = _ENCODED_QUESTION.search(raw_path)
        if cut is None:
            return unsplit
        moved = unquote(raw_path[cut.end() :])
        merged = f"{moved}&{query}" if moved and query else (moved or query)
        split = self.match(method, raw_path[: cut.start()] or "/", merged)
        if split.operation is not None:
            split.query = merged
            return split
        return split if (split.allowed or split.detail) else unsplit

    def methods_for(self, raw_path: str) -> tuple[str, ...]:
        """The methods documented for a path (every branch matching it, as written or under
        the base path): what a CORS preflight may be told."""
        allowed: set[str] = set()
        _collect(self._root, [unquote(s) for s in _segments(raw_path)], 0, allowed)
        base = self._base_path
        if base and (raw_path == base or raw_path.startswith(base + "/")):
            inner = raw_path[len(base) :] or "/"
            _collect(self._root, [unquote(s) for s in _segments(inner)], 0, allowed)
        return tuple(sorted(allowed))

    def _match(self, method: str, raw_path: str, query: str) -> Match:
        segments = [unquote(s) for s in _segments(raw_path)]
        node = _walk(self._root, segments, 0, method)
        if node is None and method == "HEAD":
            node = _walk(self._root, segments, 0, "GET")
        if node is None:
            # Only on the way to a 405 or a 404: every branch that matches the path.
            allowed: set[str] = set()
            _collect(self._root, segments, 0, allowed)
            return Match(allowed=tuple(sorted(allowed))) if allowed else _NOT_FOUND
        candidates = node.methods.get(method) or node.methods["GET"]
        chosen = _choose(candidates, query)
        if chosen is None:
            # The query refused every key of the first branch: a later branch (a template
            # beside a literal key, `/items/{id}` beside `/items/search?kind=a`) may still take
            # the request; else the 404 says what the first branch wanted.
            wanted = method if method in node.methods else "GET"
            for other in _walk_all(self._root, segments, 0, wanted):
                if other is not node:
                    chosen = _choose(other.methods[wanted], query)
                    if chosen is not None:
                        break
            if chosen is None:
                return Match(detail=_refusal(candidates, query))
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


def _walk(node: _Node, segments: list[str], index: int, method: str) -> _Node | None:
    """The first node matching the path that documents `method`.

    Literal branches first, then mixed, then templated: the first with the method wins.
    """
    if index == len(segments):
        return node if method in node.methods else None
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        found = _walk(child, segments, index + 1, method)
        if found is not None:
            return found
    for pattern, mixed_child in node.mixed:
        if pattern.fullmatch(segment):
            found = _walk(mixed_child, segments, index + 1, method)
            if found is not None:
                return found
    if node.param is not None and segment:
        return _walk(node.param, segments, index + 1, method)
    return None


def _walk_all(node: _Node, segments: list[str], index: int, method: str) -> Iterator[_Node]:
    """Every node matching the path that documents `method`, in `_walk`'s order (literal,
    mixed, templated); only after the first one's query discriminators refused a request."""
    if index == len(segments):
        if method in node.methods:
            yield node
        return
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        yield from _walk_all(child, segments, index + 1, method)
    for pattern, mixed_child in node.mixed:
        if pattern.fullmatch(segment):
            yield from _walk_all(mixed_child, segments, index + 1, method)
    if node.param is not None and segment:
        yield from _walk_all(node.param, segments, index + 1, method)


def _collect(node: _Node, segments: list[str], index: int, allowed: set[str]) -> None:
    """Add the methods of every node matching the path to `allowed` (the 405's `Allow`)."""
    if index == len(segments):
        allowed.update(node.methods)
        return
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        _collect(child, segments, index + 1, allowed)
    for pattern, mixed_child in node.mixed:
        if pattern.fullmatch(segment):
            _collect(mixed_child, segments, index + 1, allowed)
    if node.param is not None and segment:
        _collect(node.param, segments, index + 1, allowed)


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
    # No key matches and there is no plain path (it would have matched). A request that
    # carries none of the discriminating names (a client that sent only the declared query
    # parameters) gets the first documented key.
    if not names.intersection(name for c in candidates for name, _ in c.discriminator):
        return min(candidates, key=lambda c: c.order)
    return None


def _refusal(candidates: list[_Candidate], query: str) -> str:
    """Why no discriminated key matched: each discriminating name and its documented values."""
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    documented: dict[str, list[str]] = {}
    for candidate in sorted(candidates, key=lambda c: c.order):
        for name, value in candidate.discriminator:
            values = documented.setdefault(name, [])
            if value is not None and value not in values:
                values.append(value)
    parts = [
        f"{name} must be one of {', '.join(values)}"
        for name, values in documented.items()
        if values and name in present
    ]
    if not parts:  # only bare names (`/events#from&to`): some of them are missing
        missing = [name for name in documented if name not in present]
        parts.append(f"the query lacks {', '.join(missing)}")
    return "; ".join(parts)
