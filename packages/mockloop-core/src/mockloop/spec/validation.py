"""Validating values against the schemas of a loaded description.

Schemas of the model are JSON Schema 2020-12 whose `$ref`s point into `ApiSpec.document`; the
document is registered once and every validator resolves against it. Validators are compiled
once per schema object. Formats are checked only for date-time, date, email, uuid, ipv4, ipv6
and uri; every other format (int32, int64, password, vendor formats) is an annotation.

Real descriptions carry schemas jsonschema cannot use: a regex RE2 cannot compile, a `$ref`
into nowhere, a `minimum` written as a string. Each keyword is guarded: one that fails reports
no errors, the failure is remembered in `SchemaValidator.broken`, and nothing ever raises.

Bounds on the work one check can take:

- `pattern`, `patternProperties`, `additionalProperties` and `unevaluatedProperties` (the
  keywords that match a description's regular expressions) run through RE2 (`LINEAR_KEYWORDS`,
  see `mockloop.spec.patterns`): a match costs at most the text's length times the pattern's
  program size, never backtracking. `uniqueItems` hashes each item once instead of comparing
  items pairwise.
- Every check counts its steps (`WorkBudget`): one per keyword call, more for keywords that
  loop over a long list (`enum`, `properties`...) and for each RE2 match (text length times
  program size, in units of `RE2_UNIT`). A check allows `MAX_STEPS` plus `STEPS_PER_BYTE` per
  byte of the value; past that it stops. Schemas whose combinators re-check the same value
  over and over (`unevaluatedProperties` over `allOf`/`anyOf` that recurse) would otherwise
  double their work with each level of the value. A request that runs out is invalid ("too
  complex to check", a 422); an example or response that runs out is not checked (treated as
  valid, logged once per schema).
- An instance nested more than `MAX_DEPTH` levels is reported as one error without being
  walked by jsonschema (which recurses per level and would exhaust the stack); a request whose
  check still exhausts the stack is invalid ("too deep to check").

So a check's time grows with the value's size and the schema's, within a fixed bound per
byte; it is not free: `mockloop.mock.validation` checks large or costly bodies off the event
loop.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import orjson
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema._utils import extras_msg
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockloop.spec.patterns import LinearPattern, compile_pattern

__all__ = [
    "CHECKED_FORMATS",
    "FORMAT_CHECKER",
    "LINEAR_KEYWORDS",
    "MAX_DEPTH",
    "MAX_STEPS",
    "RE2_UNIT",
    "STEPS_PER_BYTE",
    "SchemaValidator",
    "WorkBudget",
    "budget_for",
    "charge",
    "deeper_than",
    "marked_properties",
    "schema_name",
]

logger = logging.getLogger("mockloop.validation")

CHECKED_FORMATS = ("date-time", "date", "email", "uuid", "ipv4", "ipv6", "uri")

_DOC_URI = "urn:mockloop:document"
_MISSING = re.compile(r"^'(.+)' is a required property$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$", re.ASCII
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_MAX_MESSAGE = 300
_MAX_CACHED = 50_000
MAX_DEPTH = 64
"""Values nested deeper than this (arrays and objects) are refused without being checked."""
_SHALLOW_BYTES = 2 * MAX_DEPTH + 2
"""JSON shorter than this cannot nest more than `MAX_DEPTH` levels (two bytes a level)."""
MAX_STEPS = 200_000
"""Steps every check may take, whatever the value's size (up to about 1 s of work: a step is one
keyword call, 2-7 µs)."""
STEPS_PER_BYTE = 8
"""Further steps a check may take per byte of the value (as compact JSON): an ordinary schema
takes well under one per byte."""
RE2_UNIT = 512
"""Characters times RE2 program instructions that count as one step: RE2's slowest matching
(its DFA giving up, about 4 ns per unit) then costs about what a keyword call costs."""

Direction = Literal["request", "response", "any"]
_Keyword = Callable[[Any, Any, Any, dict[str, Any]], Iterator[ValidationError] | None]


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    text = value.upper().replace("Z", "+00:00").replace(":60", ":59", 1)  # leap second
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


def _format_checker() -> FormatChecker:
    """A checker for `CHECKED_FORMATS` only (jsonschema's checks where it has them)."""
    checker = FormatChecker(formats=())
    available = Draft202012Validator.FORMAT_CHECKER.checkers
    for name in ("date", "email", "uuid", "ipv4", "ipv6"):
        if name in available:
            checker.checkers[name] = available[name]
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    return checker


FORMAT_CHECKER = _format_checker()
"""Checks exactly `CHECKED_FORMATS`; shared by the validator and the faker."""


# -- the work budget ---------------------------------------------------------------------------


class _TooComplex(BaseException):
    """Raised inside a check that has used up its `WorkBudget`.

    A BaseException, so that no `except Exception` on the way out (jsonschema's, a keyword
    guard's) swallows it; `WorkBudget` stops it.
    """


class _Work(threading.local):
    """The steps left to the check running on this thread (each thread checks on its own)."""

    def __init__(self) -> None:
        self.active = False
        self.left = 0


_WORK = _Work()


def charge(steps: int = 1) -> None:
    """Counts `steps` against the `WorkBudget` running on this thread (none: free), and stops
    the check once the budget is used up."""
    work = _WORK
    if work.active:
        work.left -= steps
        if work.left < 0:
            raise _TooComplex


class WorkBudget:
    """A bound on the steps of the checks run inside it on this thread (see `charge`).

    `with WorkBudget(n) as budget:` around a check; once it takes more than `n` steps it is
    stopped, the block ends there and `budget.exceeded` is True. Budgets nest: an inner one
    never allows more than the outer one has left, and what it uses counts for both.

    Attributes:
        steps: the steps allowed.
        exceeded: whether the check ran out of steps and was stopped.
    """

    def __init__(self, steps: int) -> None:
        self.steps = max(0, steps)
        self.exceeded = False
        self._outer: tuple[bool, int] = (False, 0)
        self._start = 0

    def __enter__(self) -> WorkBudget:
        work = _WORK
        self._outer = (work.active, work.left)
        work.left = min(self.steps, max(0, work.left)) if work.active else self.steps
        work.active = True
        self._start = work.left
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        work = _WORK
        used = self._start - work.left
        active, left = self._outer
        work.active = active
        work.left = left - used if active else 0
        if kind is not None and issubclass(kind, _TooComplex):
            self.exceeded = True
            return True
        return False


def budget_for(size: int) -> int:
    """The steps a check of a value taking `size` bytes as JSON may take."""
    return MAX_STEPS + STEPS_PER_BYTE * max(0, size)


# -- keywords that match description patterns, through RE2 -------------------------------------
# Each mirrors jsonschema's own implementation (jsonschema/_keywords.py, _utils.py), with
# `re.search` replaced by RE2 (a pattern RE2 cannot check makes the keyword unusable).


def _linear(pattern: Any) -> LinearPattern:
    """`pattern` compiled for RE2; ValueError for one that cannot be checked, which makes
    the keyword unusable (see `SchemaValidator.broken`), as an uncompilable regex always did."""
    found = compile_pattern(pattern)
    if not found.checked:
        raise ValueError(f"pattern {pattern!r}: {found.note}")
    return found


def _search(pattern: Any, text: str) -> bool:
    """Whether `pattern` matches in `text`, its worst-case cost charged to the budget."""
    found = _linear(pattern)
    charge(1 + len(text) * found.cost // RE2_UNIT)
    return found.search(text)


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        shown = repr(instance) if len(instance) <= 80 else repr(instance[:77]) + "…"
        yield ValidationError(f"{shown} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _matches_any(patterns: Any, key: str) -> bool:
    return any(_search(p, key) for p in patterns)


def _additional_properties(
    validator: Any, extra: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = {k for k in instance if k not in properties and not _matches_any(patterns, k)}
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            yield ValidationError(
                "Additional properties are not allowed ({} {} unexpected)".format(
                    *extras_msg(sorted(extras, key=str))
                )
            )


def _evaluated_keys(validator: Any, instance: Any, schema: Any) -> list[str]:
    """jsonschema's `find_evaluated_property_keys_by_schema`, matching patterns with RE2."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(keyword)
        if ref is not None:
            resolved = validator._resolver.lookup(ref)
            keys.extend(
                _evaluated_keys(
                    validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                    instance,
                    resolved.contents,
                )
            )
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        subschema = schema.get(keyword)
        if subschema is None:
            continue
        keys += (
            key
            for key, value in instance.items()
            if next(validator.descend(value, subschema), None) is None
        )
    if "patternProperties" in schema:
        keys += (k for k in instance if _matches_any(schema["patternProperties"], k))
    if "dependentSchemas" in schema:
        for name, subschema in schema["dependentSchemas"].items():
            if name in instance:
                keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if next(validator.descend(instance, subschema), None) is None:
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = set(_evaluated_keys(validator, instance, schema))
    failing = [
        key
        for key in instance
        if key not in evaluated
        and next(validator.descend(instance[key], unevaluated, path=key, schema_path=key), None)
        is not None
    ]
    if not failing:
        return
    if unevaluated is False:
        yield ValidationError(
            "Unevaluated properties are not allowed ({} {} unexpected)".format(
                *extras_msg(sorted(failing, key=str))
            )
        )
    else:
        yield ValidationError(
            "Unevaluated properties are not valid under the given schema "
            "({} {} unevaluated and invalid)".format(*extras_msg(failing))
        )


_INT64 = 2**63


def _canonical(value: Any) -> Any:
    """`value` with numbers made comparable as JSON Schema compares them (`1.0` is `1`);
    TypeError for what canonical JSON cannot tell apart (non-string keys, NaN, huge numbers)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("NaN and infinities have no JSON form")
        if value.is_integer() and -_INT64 <= value < _INT64:
            return int(value)
        return value
    if isinstance(value, int):
        return value  # orjson refuses what exceeds 64 bits: TypeError
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("a non-string key")
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


_DRAFT_UNIQUE = Draft202012Validator.VALIDATORS["uniqueItems"]


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """jsonschema's `uniqueItems` in linear time: each item hashed once as canonical JSON
    (sorted keys, `true` apart from `1`, `1` equal to `1.0`, inside arrays and objects too)
    instead of compared with every other item."""
    if not unique or not validator.is_type(instance, "array"):
        return
    charge(1 + len(instance))
    seen: set[bytes] = set()
    try:
        for item in instance:
            key = orjson.dumps(_canonical(item), option=orjson.OPT_SORT_KEYS)
            if key in seen:
                yield ValidationError(f"{instance!r} has non-unique elements")
                return
            seen.add(key)
    except TypeError:  # values from YAML with no JSON form: jsonschema's pairwise comparison
        charge(len(instance) * len(instance) // 8)
        yield from _DRAFT_UNIQUE(validator, unique, instance, schema)


LINEAR_KEYWORDS: dict[str, Any] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
    "uniqueItems": _unique_items,
}
"""Draft 2020-12 keywords reimplemented to bound their cost: those that match description
patterns, over RE2, and `uniqueItems`, in linear time; extend a validator class with them
(`jsonschema.validators.extend`)."""


def marked_properties(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of properties marked readOnly / writeOnly anywhere in the document's schemas."""
    read_only: set[str] = set()
    write_only: set[str] = set()
    stack: list[Any] = [
        document.get("components", {}).get("schemas", {}),
        document.get("paths", {}),
    ]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                for name, sub in properties.items():
                    if isinstance(sub, dict):
                        if sub.get("readOnly") is True:
                            read_only.add(name)
                        if sub.get("writeOnly") is True:
                            write_only.add(name)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return read_only, write_only


def deeper_than(instance: Any, levels: int) -> bool:
    """Whether arrays and objects in `instance` nest more than `levels` deep."""
    stack: list[tuple[Any, int]] = [(instance, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth >= levels:
                return True
            stack.extend((item, depth + 1) for item in node if isinstance(item, (list, dict)))
    return False


def _measure(instance: Any, levels: int) -> tuple[int, bool]:
    """About how many bytes `instance` takes as JSON, and whether arrays and objects in it
    nest more than `levels` deep (the walk stops there)."""
    size = 0
    stack: list[tuple[Any, int]] = [(instance, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            size += len(node) + 2
        elif isinstance(node, dict):
            if depth >= levels:
                return size, True
            size += 2 + len(node) + sum(len(key) + 2 for key in node if isinstance(key, str))
            stack.extend((item, depth + 1) for item in node.values())
        elif isinstance(node, list):
            if depth >= levels:
                return size, True
            size += 2 + len(node)
            stack.extend((item, depth + 1) for item in node)
        else:
            size += 4
    return size, False


def schema_name(schema: Any) -> str:
    """How a log line names `schema`: its `$ref`, else "an inline schema"."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return repr(ref[:200]) if isinstance(ref, str) else "an inline schema"


def _shorten(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 1] + "…"


class SchemaValidator:
    """Validates instances against schemas of one normalised document.

    Safe to use from several threads at once (the event loop and a worker thread): each
    thread's check keeps its own step count and current schema.

    Attributes:
        document: the `ApiSpec.document` every local `$ref` resolves against.
        broken: for each schema (by `id`) that hit an unusable keyword, what went wrong.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(_DOC_URI, resource)
        self._validators: dict[int, tuple[Any, Any]] = {}
        self._marked: tuple[set[str], set[str]] | None = None
        self._local = threading.local()  # `current`: id of the schema this thread checks
        self._unchecked: set[int] = set()
        self.broken: dict[int, str] = {}
        self._cls = validators.extend(
            Draft202012Validator,
            {
                name: self._guard(name, keyword)
                for name, keyword in (Draft202012Validator.VALIDATORS | LINEAR_KEYWORDS).items()
            },
        )

    def _guard(self, name: str, keyword: _Keyword) -> _Keyword:
        def guarded(
            validator: Any, value: Any, instance: Any, schema: dict[str, Any]
        ) -> Iterator[ValidationError]:
            work = _WORK
            if work.active:
                # A keyword looping over a long list (enum, properties) costs more than one.
                work.left -= 1 + (len(value) >> 3 if isinstance(value, (list, dict)) else 0)
                if work.left < 0:
                    raise _TooComplex
            try:
                found = keyword(validator, value, instance, schema)
                if found is not None:
                    yield from found
            except RecursionError:
                raise  # a schema referring to itself endlessly: `errors` says so
            except Exception as exc:  # an unusable keyword validates nothing
                self.broken.setdefault(
                    getattr(self._local, "current", 0),
                    f"{name}: {type(exc).__name__}: {_shorten(str(exc))}",
                )

        return guarded

    def _validator(self, schema: Any) -> Any:
        entry = self._validators.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        try:
            validator = self._cls(
                schema,
                registry=self._registry,
                format_checker=FORMAT_CHECKER,
                # Resolve `#/...` against the whole document, not the schema alone.
                _resolver=self._registry.resolver(base_uri=_DOC_URI),  # pyright: ignore[reportCallIssue]
            )
        except Exception as exc:  # an unusable schema validates nothing
            self.broken[id(schema)] = f"{type(exc).__name__}: {_shorten(str(exc))}"
            validator = None
        if len(self._validators) >= _MAX_CACHED:
            self._validators.clear()
        # The entry holds the schema, so its id cannot be reused by another object meanwhile.
        self._validators[id(schema)] = (schema, validator)
        return validator

    def errors(
        self,
        schema: Any,
        instance: Any,
        *,
        direction: Direction = "any",
        limit: int = 50,
        size: int | None = None,
    ) -> list[str]:
        """Messages for each way `instance` breaks `schema`, each naming the JSON path.

        A message reads like "$.name: 5 is not of type 'string'". `direction="request"`
        forgives missing readOnly properties, `"response"` missing writeOnly ones: OpenAPI says
        a client does not send the first and a server does not return the second, even where
        a schema lists them as required. `size` is the instance's length as JSON when the
        caller knows it (the raw body): it sets the step budget (`budget_for`) and, when
        short, spares a walk looking for deep nesting.

        A check that runs out of steps, or exhausts the stack, gives for a request one message
        saying the value is too complex (or too deep) to check; for anything else (an
        example, a response) the value is not checked and counts as valid (logged once per
        schema). Never raises.
        """
        found = self.errors_within(
            schema, instance, direction=direction, limit=limit, size=size, steps=None
        )
        if found is not None:
            return found
        if direction == "request":
            return [
                "$: the value is too complex to check against this schema (more than "
                f"{getattr(self._local, 'allowed', MAX_STEPS)} validation steps, the budget "
                "for its size); send a smaller or simpler body"
            ]
        if id(schema) not in self._unchecked:
            if len(self._unchecked) >= _MAX_CACHED:
                self._unchecked.clear()
            self._unchecked.add(id(schema))
            logger.warning(
                "a value was not checked against schema %s: the check needed more than its "
                "budget of validation steps (the schema's combinators re-check the value too "
                "often); it is treated as valid",
                schema_name(schema),
            )
        return []

    def errors_within(
        self,
        schema: Any,
        instance: Any,
        *,
        direction: Direction = "any",
        limit: int = 50,
        size: int | None = None,
        steps: int | None = None,
    ) -> list[str] | None:
        """`errors`, or None when the check needs more than `steps` steps (default: the
        budget for the instance's size): the caller decides what an unfinished check means
        (the request validator moves it off the event loop)."""
        validator = self._validator(schema)
        if validator is None:
            return []
        if isinstance(instance, (list, dict)):
            if size is not None and size < _SHALLOW_BYTES:
                pass  # too short to nest deeper than MAX_DEPTH
            else:
                measured, deep = _measure(instance, MAX_DEPTH)
                if deep:
                    # jsonschema recurses per level: far deeper, it would exhaust the stack.
                    return [
                        f"$: the value is nested more than {MAX_DEPTH} levels deep, "
                        "too deep to check"
                    ]
                size = measured if size is None else size
        allowed = budget_for(size or 0) if steps is None else steps
        self._local.current = id(schema)
        self._local.allowed = allowed
        messages: list[str] = []
        budget = WorkBudget(allowed)
        try:
            with budget:
                for error in validator.iter_errors(instance):
                    if error.validator == "required" and direction != "any":
                        found = _MISSING.match(error.message)
                        if found and self._forgiven(found.group(1), direction):
                            continue
                    messages.append(f"{error.json_path}: {_shorten(error.message)}")
                    if len(messages) >= limit:
                        break
        except RecursionError:
            if direction == "request":
                # The value's nesting times the schema's: not the schema's fault alone.
                return ["$: the value is nested too deeply for this schema, too deep to check"]
            self.broken[id(schema)] = "RecursionError: the schema refers to itself endlessly"
            return []
        except Exception as exc:  # anything the guards did not catch: skip this schema
            self.broken[id(schema)] = f"{type(exc).__name__}: {_shorten(str(exc))}"
            return []
        if budget.exceeded:
            return None
        return messages

    def is_valid(self, schema: Any, instance: Any, *, direction: Direction = "any") -> bool:
        """Whether `instance` matches `schema` (see `errors` for `direction` and for a check
        that runs out of steps)."""
        return not self.errors(schema, instance, direction=direction, limit=1)

    def _forgiven(self, name: str, direction: str) -> bool:
        if self._marked is None:
            self._marked = marked_properties(self.document)
        read_only, write_only = self._marked
        return name in (read_only if direction == "request" else write_only)
