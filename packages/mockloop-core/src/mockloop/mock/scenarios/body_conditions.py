"""Body conditions (`when.body`, `when.body_partial`) checked against the request body schema.

A `when.body` JSONPath is walked through the JSON request body schemas of each operation the
rule selects (every JSON media type's schema, as alternatives) when it is a plain member/index
path: `$.a.b`, `$['x-y']`, `$.items[0].price`, `$.items[*].price`, `$.prices.*`. A wildcard
(`.*`, `[*]`) reaches an array's elements and an object's member values alike (RFC 9535). Any
other path (a filter, recursive descent `..`, a slice, a union) is not checked: it may reach any
value. `when.body_partial` is walked key by key (objects) and element by element (arrays, each
element against `items`).

The walk follows local `$ref`s into the description's document, merges `allOf`, and takes
`oneOf`/`anyOf` as alternatives (a field is known when any branch declares it); `if` with
`then` and `else` are two alternatives, and each `dependentSchemas` (or schema-valued
`dependencies`) entry one more, so what `unevaluatedProperties: false` sees through them counts
as declared. A field no branch declares is an error when every object it could belong to forbids
others (`additionalProperties: false` or `unevaluatedProperties: false`), else a warning; a value
the field's schema cannot have is an error. An operation with no JSON request body is a warning,
as an undeclared query parameter is: a request may still carry one, and the body is read
whatever the description says.

The expansion is bounded per check: at most 64 alternatives per schema, a memo per schema and
depth, a `$ref` already being expanded is not expanded again, and a work budget. What is cut
off (a cycle, the depth limit, a `$dynamicRef`, the budget, alternatives past 64) stands for
"unknown": it may declare any field and hold any value, so it never turns into an error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal
from urllib.parse import unquote

from mockloop.spec.model import MediaType, Operation

__all__ = ["BodyCheck", "json_bodies", "plain_path"]

Severity = Literal["error", "warning"]
Finding = tuple[str, str, Severity]
Segment = str | int | None
"""A member name, an array index, or None for every element (`[*]`)."""
Alternative = list[dict[str, Any]]
"""Schemas a value must satisfy together (`allOf`); `[]` is any value."""

_MAX_REF_HOPS = 32
_MAX_DEPTH = 16
_MAX_ALTERNATIVES = 64
_MAX_WORK = 200_000
"""Schema parts joined per check before the rest of the expansion is taken as unknown."""
_UNKNOWN: dict[str, Any] = {}
"""The part standing for what the bounded expansion cut off: any field, any value (by identity)."""
_ANY_VALUE: dict[str, Any] = {}
"""The schema of an element `items` does not describe (one object: the memo keys on ids)."""
_UNRESOLVED_REFS = ("$dynamicRef", "$recursiveRef")
_SEGMENT = re.compile(
    r"\.(?P<name>[^\W\d]\w*)|\[(?P<index>\d+)\]|(?P<all>\[\*\]|\.\*)"
    r"|\['(?P<single>[^'\\]*)'\]|\[\"(?P<double>[^\"\\]*)\"\]"
)
_JSON_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


def plain_path(path: str) -> list[Segment] | None:
    """The segments of a plain member/index JSONPath (`$.a[0]['b-c'][*]`), None for any other."""
    if not path.startswith("$"):
        return None
    segments: list[Segment] = []
    position = 1
    while position < len(path):
        found = _SEGMENT.match(path, position)
        if found is None:
            return None
        if found["index"] is not None:
            segments.append(int(found["index"]))
        elif found["all"] is not None:
            segments.append(None)
        else:
            segments.append(found["name"] or found["single"] or found["double"] or "")
        position = found.end()
    return segments


def json_bodies(operation: Operation) -> list[MediaType]:
    """The operation's JSON request body media types (a schema None when undocumented); empty
    when the operation takes no JSON body."""
    body = operation.request_body
    if body is None:
        return []
    found: list[MediaType] = []
    for media_type, content in body.content.items():
        essence = media_type.split(";")[0].strip().lower()
        if essence == "application/json" or essence.endswith("+json") or essence == "*/*":
            found.append(content)
    return found


class BodyCheck:
    """Walks body conditions through the request body schemas of the selected operations."""

    def __init__(
        self,
        operations: list[Operation],
        document: Mapping[str, Any] | None,
        type_problem: Callable[[Any, dict[str, Any]], str],
    ) -> None:
        self._document = document
        self._type_problem = type_problem
        self._bodies = [media for op in operations for media in json_bodies(op)]
        self._without = [op for op in operations if not json_bodies(op)]
        with_body = [op for op in operations if json_bodies(op)]
        self._ids = ", ".join(op.operation_id for op in with_body)
        self._one = len(with_body) == 1
        self._roots: list[Alternative] | None = None
        self._memo: dict[tuple[int, int], list[Alternative]] = {}
        self._expanding: set[int] = set()
        self.work = 0
        """Schema parts joined so far (bounded by the work budget)."""
        self.found: list[Finding] = []

    def no_body(self, location: str) -> bool:
        """Report the selected operations that take no JSON body; True when none does."""
        if not self._without:
            return False
        ids = ", ".join(op.operation_id for op in self._without)
        self.found.append(
            (
                location,
                f"{ids} document{'s' if len(self._without) == 1 else ''} no JSON request body: "
                "the body tests hold only when a request carries one anyway; select an "
                "operation that takes a JSON body or test path, query or headers instead",
                "warning",
            )
        )
        return not self._bodies

    def roots(self) -> list[Alternative]:
        """The alternatives of the selected operations' JSON body schemas (computed once)."""
        if self._roots is None:
            # An undocumented schema (None) is any value.
            expanded = (alt for media in self._bodies for alt in self._expand(media.schema, 0))
            self._roots = _capped(expanded) or [[]]
        return self._roots

    def path(self, path: str, test: Any, absent_only: bool) -> None:
        """Check one `when.body` test, at `body.<path>`."""
        segments = plain_path(path)
        if segments is None:
            return
        location = f"body.{path}"
        state = self.roots()
        shown = "$"
        for segment in segments:
            state = self._step(state, segment, shown, location, absent_only)
            if state is None:
                return
            shown += f".{segment}" if isinstance(segment, str) else f"[{_index(segment)}]"
        if absent_only or not any(state):
            return
        wrong = self._leaf_problem(state, lambda schema: self._type_problem(test, schema))
        if wrong:
            self.found.append((location, f"body field {shown} is {wrong}", "error"))

    def partial(self, value: Any, state: list[Alternative], shown: str, location: str) -> None:
        """Check a `when.body_partial` value (and what it holds) at `location`."""
        if not any(state):
            return
        if isinstance(value, dict):
            if not self._can_be(state, ("object",), shown, location, "an object"):
                return
            for key, inner in value.items():
                key = str(key)
                where = f"{location}.{key}"
                children = self._step(state, key, shown, where, False)
                if children is not None:
                    self.partial(inner, children, f"{shown}.{key}", where)
        elif isinstance(value, list):
            if not self._can_be(state, ("array",), shown, location, "an array"):
                return
            children = self._step(state, None, shown, location, False, members=False)
            if children is not None:
                for index, inner in enumerate(value):
                    self.partial(inner, children, f"{shown}[*]", f"{location}[{index}]")
        elif value is not None:
            wrong = self._leaf_problem(state, lambda schema: _json_type_problem(value, schema))
            if wrong:
                self.found.append((location, f"body field {shown} is {wrong}", "error"))

    # -- the schema walk -----------------------------------------------------------------------

    def _step(
        self,
        state: list[Alternative],
        segment: Segment,
        shown: str,
        location: str,
        absent_only: bool,
        *,
        members: bool = True,
    ) -> list[Alternative] | None:
        """The alternatives one segment further; None (with a finding) when the walk stops.

        A wildcard (`segment` None) reaches an array's elements and, unless `members` is False
        (a `body_partial` list), an object's member values.
        """
        if isinstance(segment, str):
            kinds, noun, what = ("object",), "an object", "has no fields"
        elif segment is None and members:
            kinds, noun, what = ("object", "array"), "an object or an array", ""
        else:
            kinds, noun, what = ("array",), "an array", ""
        if not self._can_be(state, kinds, shown, location, noun, what, absent_only):
            return None
        children: list[Any] = []
        anything = False  # an alternative that is any value: anything one segment further
        open_names = False  # an object that takes other names, untyped
        declared: set[str] = set()
        for alt in state:
            if not alt:
                anything = True
                continue
            if isinstance(segment, str):
                status, found = self._member(alt, segment)
                open_names = open_names or status == "open"
                anything = anything or status == "unknown"
                children.extend(found)
                for part in alt:
                    properties = part.get("properties")
                    if isinstance(properties, dict):
                        declared.update(str(name) for name in properties)
                continue
            if _allows(alt, "array"):
                children.extend(self._element(alt, segment))
            if segment is None and members and _allows(alt, "object"):
                values, others = self._member_values(alt)
                children.extend(values)
                open_names = open_names or others
        if children or anything or (open_names and not isinstance(segment, str)):
            return _capped(
                itertools.chain(
                    (alt for child in children for alt in self._expand(child, 0)),
                    [[]] if anything or open_names else [],
                )
            )
        if not isinstance(segment, str):
            message = (
                f"body field {shown} is an object that allows no members "
                "(additionalProperties or unevaluatedProperties is false): "
                f"{_index(segment)!r} reaches nothing"
            )
            if absent_only:
                self.found.append(
                    (location, message + "; `present: false` always holds", "warning")
                )
            else:
                self.found.append((location, message + "; the rule could never answer", "error"))
            return None
        if open_names:
            message = (
                f"{self._ids} declare{'s' if self._one else ''} no body field "
                f"{_field(shown, segment)} (declared: {', '.join(sorted(declared)) or 'none'}): "
                "a request may still carry it"
            )
            self.found.append((location, message, "warning"))
            return None
        message = (
            f"{self._ids} declare{'s' if self._one else ''} no body field "
            f"{_field(shown, segment)} (declared: {', '.join(sorted(declared)) or 'none'}) and "
            "allow no other (additionalProperties or unevaluatedProperties is false)"
        )
        if absent_only:
            self.found.append((location, message + ": `present: false` always holds", "warning"))
        else:
            self.found.append((location, message + ": the rule could never answer", "error"))
        return None

    def _can_be(
        self,
        state: list[Alternative],
        kinds: tuple[str, ...],
        shown: str,
        location: str,
        noun: str,
        what: str = "",
        absent_only: bool = False,
    ) -> bool:
        """Whether a value of `state` can be of a JSON type in `kinds`; if not, report it."""
        if any(_allows(alt, kind) for alt in state for kind in kinds):
            return True
        found = sorted({k for alt in state for k in _types(alt)})
        because = f"of type {'/'.join(found)}, not {noun}"
        if what:
            because += f": it {what}"
        message = f"body field {shown} is {because}"
        if absent_only:
            self.found.append((location, message + "; `present: false` always holds", "warning"))
        else:
            self.found.append((location, message + "; the rule could never answer", "error"))
        return False

    def _member(self, alt: Alternative, name: str) -> tuple[str, list[Any]]:
        """("declared", schemas) when a part declares `name` (or types extra fields),
        ("unknown", []) when a part is what the bounded expansion cut off, ("open", []) when
        other names are allowed untyped, ("closed", []) when forbidden."""
        children = [
            part["properties"][name]
            for part in alt
            if isinstance(part.get("properties"), dict) and name in part["properties"]
        ]
        if children:
            return "declared", children
        if any(part is _UNKNOWN for part in alt):
            return "unknown", []
        if any(part.get("patternProperties") for part in alt):
            return "open", []
        extra = [
            part["additionalProperties"]
            for part in alt
            if isinstance(part.get("additionalProperties"), dict)
        ]
        if extra:
            return "declared", extra
        if any(
            part.get("additionalProperties") is False or part.get("unevaluatedProperties") is False
            for part in alt
        ):
            return "closed", []
        return "open", []

    def _member_values(self, alt: Alternative) -> tuple[list[Any], bool]:
        """The schemas an object of `alt`'s member values have, and whether other members
        (any value) are allowed too; a closed object with no declared members has none."""
        values: list[Any] = []
        typed_extra = False
        for part in alt:
            for key in ("properties", "patternProperties"):
                declared = part.get(key)
                if isinstance(declared, dict):
                    values.extend(declared.values())
            for key in ("additionalProperties", "unevaluatedProperties"):
                if isinstance(part.get(key), dict):
                    values.append(part[key])
                    typed_extra = True
        closed = any(
            part.get("additionalProperties") is False or part.get("unevaluatedProperties") is False
            for part in alt
        )
        unknown = any(part is _UNKNOWN for part in alt)
        return values, unknown or not (closed or typed_extra)

    def _element(self, alt: Alternative, index: int | None) -> list[Any]:
        """The schemas an element (`index`, or any when None) of an array of `alt` has."""
        children: list[Any] = []
        for part in alt:
            prefix = part.get("prefixItems")
            prefix = prefix if isinstance(prefix, list) else []
            items = part.get("items")
            if index is not None and index < len(prefix):
                children.append(prefix[index])
                continue
            if index is None:
                children.extend(prefix)
            if isinstance(items, dict):
                children.append(items)
        return children or [_ANY_VALUE]

    def _expand(self, schema: Any, depth: int) -> list[Alternative]:
        """`schema` as alternatives, each a list of parts that hold together (memoised per
        schema and depth; what the bounds cut off is the unknown part)."""
        key = (id(schema), depth)
        known = self._memo.get(key)
        if known is not None:
            return known
        resolved = self._deref(schema)
        if resolved is None and isinstance(schema, dict):  # a $ref that cannot be followed
            return [[_UNKNOWN]]
        if not isinstance(resolved, dict):  # undocumented or `true`: any value
            return [[]]
        if id(resolved) in self._expanding or depth > _MAX_DEPTH or self.work > _MAX_WORK:
            return [[_UNKNOWN]]
        self._expanding.add(id(resolved))
        try:
            found = self._combine(resolved, depth)
        finally:
            self._expanding.discard(id(resolved))
        self._memo[key] = found
        return found

    def _combine(self, schema: dict[str, Any], depth: int) -> list[Alternative]:
        """The alternatives of one resolved schema: itself with its `allOf` parts, times its
        `oneOf`/`anyOf` branches and its conditional (`if`, `dependentSchemas`) alternatives."""
        found: list[Alternative] = [[schema]]
        all_of = schema.get("allOf")
        for sub in all_of if isinstance(all_of, list) else []:
            found = self._product(found, self._expand(sub, depth + 1))
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                found = self._product(found, self._union(branches, depth))
        if "if" in schema:
            passed = self._product(
                self._expand(schema["if"], depth + 1), self._expand(schema.get("then"), depth + 1)
            )
            failed = self._expand(schema.get("else"), depth + 1)
            found = self._product(found, _capped(itertools.chain(passed, failed)))
        dependent = [
            sub
            for key in ("dependentSchemas", "dependencies")
            if isinstance(schema.get(key), dict)
            for sub in schema[key].values()
            if isinstance(sub, dict)
        ]
        if dependent:  # none of them applies, or one does
            found = self._product(found, [[], *self._union(dependent, depth)])
        if any(key in schema for key in _UNRESOLVED_REFS):
            found = self._product(found, [[_UNKNOWN]])
        return found

    def _union(self, branches: list[Any], depth: int) -> list[Alternative]:
        """The alternatives of any one of `branches` (capped while built)."""
        return _capped(alt for branch in branches for alt in self._expand(branch, depth + 1))

    def _product(self, left: list[Alternative], right: list[Alternative]) -> list[Alternative]:
        """Every alternative of `left` joined with every one of `right` (capped while built;
        a part already in the alternative is not repeated)."""
        if right == [[]]:
            return left
        return _capped(self._join(a, b) for a in left for b in right)

    def _join(self, first: Alternative, second: Alternative) -> Alternative:
        self.work += len(first) + len(second)
        seen = {id(part) for part in first}
        return first + [part for part in second if id(part) not in seen]

    def _deref(self, schema: Any) -> Any:
        """`schema` with local `$ref`s followed; None (anything) when one cannot be."""
        for _ in range(_MAX_REF_HOPS):
            if not isinstance(schema, dict) or "$ref" not in schema:
                return schema
            ref = schema["$ref"]
            if self._document is None or not isinstance(ref, str) or not ref.startswith("#/"):
                return None
            node: Any = self._document
            for token in unquote(ref[2:]).split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, Mapping) or token not in node:
                    return None
                node = node[token]
            schema = node
        return None

    def _leaf_problem(
        self, state: list[Alternative], problem: Callable[[dict[str, Any]], str]
    ) -> str:
        """Why no alternative can have the value ("" when one can)."""
        first = ""
        for alt in state:
            wrong = next((w for part in alt if (w := problem(part))), "")
            if not wrong:
                return ""
            first = first or wrong
        return first


def _capped(alternatives: Iterable[Alternative]) -> list[Alternative]:
    """At most `_MAX_ALTERNATIVES` of `alternatives`, the last standing for the rest (unknown)
    when there are more; reads no more than one past the cap."""
    taken = list(itertools.islice(alternatives, _MAX_ALTERNATIVES + 1))
    if len(taken) > _MAX_ALTERNATIVES:
        return [*taken[: _MAX_ALTERNATIVES - 1], [_UNKNOWN]]
    return taken


def _allows(alt: Alternative, kind: str) -> bool:
    for part in alt:
        kinds = _declared_types(part)
        if kinds is not None and kind not in kinds:
            return False
    return True


def _declared_types(part: dict[str, Any]) -> set[str] | None:
    kind = part.get("type")
    if isinstance(kind, str):
        kinds = {kind}
    elif isinstance(kind, list):
        kinds = {k for k in kind if isinstance(k, str)}
    else:
        return None
    if "integer" in kinds:
        kinds.add("number")
    return kinds


def _types(alt: Alternative) -> list[str]:
    for part in alt:
        kind = part.get("type")
        if isinstance(kind, str):
            return [kind]
        if isinstance(kind, list):
            return [str(k) for k in kind]
    return ["any"]


def _json_type_problem(value: Any, schema: dict[str, Any]) -> str:
    """Why the JSON value `value` is never equal to a value of `schema` ("" when it can be)."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not any(_equal(value, option) for option in enum):
        return f"one of {enum}: {value!r} never is"
    kinds = _declared_types(schema)
    if kinds is None:
        return ""
    if isinstance(value, bool):
        actual = "boolean"
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        actual = "integer"
    elif isinstance(value, float):
        actual = "number"
    elif isinstance(value, str):
        actual = "string"
    else:
        return ""
    if actual in kinds or (actual == "integer" and "number" in kinds):
        return ""
    shown = "/".join(k for k in _JSON_TYPES if k in kinds and not (k == "number" and _int(schema)))
    return f"of type {shown}: {value!r} is a JSON {actual}, so it never equals one"


def _int(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "integer" in kinds and "number" not in kinds


def _equal(value: Any, option: Any) -> bool:
    if isinstance(value, bool) or isinstance(option, bool):
        return value is option
    return value == option


def _index(segment: int | None) -> str:
    return "*" if segment is None else str(segment)


def _field(shown: str, name: str) -> str:
    return repr(name) if shown == "$" else f"{name!r} in {shown}"
