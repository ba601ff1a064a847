"""Validating values against the schemas of a loaded description.

Schemas of the model are JSON Schema 2020-12 whose `$ref`s point into `ApiSpec.document`; the
document is registered once and every validator resolves against it. Validators are compiled
once per schema object. Formats are checked only for date-time, date, email, uuid, ipv4, ipv6
and uri; every other format (int32, int64, password, vendor formats) is an annotation.

Real descriptions carry schemas jsonschema cannot use: a regex RE2 cannot compile, a `$ref`
into nowhere, a `minimum` written as a string. Each keyword is guarded: one that fails reports
no errors, the failure is remembered in `SchemaValidator.broken`, and nothing ever raises.

`pattern`, `patternProperties`, `additionalProperties` and `unevaluatedProperties` (the keywords
that match a description's regular expressions) run through RE2 (`LINEAR_KEYWORDS`, see
`mockloop.spec.patterns`), so no value can make a check take more than linear time. An
instance nested more than `MAX_DEPTH` levels is reported as one error without being walked by
jsonschema (which recurses per level and would exhaust the stack).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

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
    "SchemaValidator",
    "deeper_than",
    "marked_properties",
]

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


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _linear(pattern).search(instance):
        shown = repr(instance) if len(instance) <= 80 else repr(instance[:77]) + "…"
        yield ValidationError(f"{shown} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _linear(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _matches_any(patterns: Any, key: str) -> bool:
    return any(_linear(p).search(key) for p in patterns)


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


LINEAR_KEYWORDS: dict[str, Any] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}
"""Draft 2020-12 keywords that match description patterns, reimplemented over RE2; extend a
validator class with them (`jsonschema.validators.extend`)."""


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


def _shorten(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 1] + "…"


class SchemaValidator:
    """Validates instances against schemas of one normalised document.

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
        self._current = 0
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
            try:
                found = keyword(validator, value, instance, schema)
                if found is not None:
                    yield from found
            except RecursionError:
                raise  # a schema referring to itself endlessly: `errors` says so
            except Exception as exc:  # an unusable keyword validates nothing
                self.broken.setdefault(
                    self._current, f"{name}: {type(exc).__name__}: {_shorten(str(exc))}"
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
    ) -> list[str]:
        """Messages for each way `instance` breaks `schema`, each naming the JSON path.

        A message reads like "$.name: 5 is not of type 'string'". `direction="request"`
        forgives missing readOnly properties, `"response"` missing writeOnly ones: OpenAPI says
        a client does not send the first and a server does not return the second, even where
        a schema lists them as required. Never raises.
        """
        validator = self._validator(schema)
        if validator is None:
            return []
        if isinstance(instance, (list, dict)) and deeper_than(instance, MAX_DEPTH):
            # jsonschema recurses per level: far deeper, it would exhaust the stack.
            return [f"$: the value is nested more than {MAX_DEPTH} levels deep, too deep to check"]
        self._current = id(schema)
        messages: list[str] = []
        try:
            for error in validator.iter_errors(instance):
                if error.validator == "required" and direction != "any":
                    found = _MISSING.match(error.message)
                    if found and self._forgiven(found.group(1), direction):
                        continue
                messages.append(f"{error.json_path}: {_shorten(error.message)}")
                if len(messages) >= limit:
                    break
        except RecursionError:
            self.broken[id(schema)] = "RecursionError: the schema refers to itself endlessly"
            return []
        except Exception as exc:  # anything the guards did not catch: skip this schema
            self.broken[id(schema)] = f"{type(exc).__name__}: {_shorten(str(exc))}"
            return []
        return messages

    def is_valid(self, schema: Any, instance: Any, *, direction: Direction = "any") -> bool:
        """Whether `instance` matches `schema` (see `errors` for `direction`)."""
        return not self.errors(schema, instance, direction=direction, limit=1)

    def _forgiven(self, name: str, direction: str) -> bool:
        if self._marked is None:
            self._marked = marked_properties(self.document)
        read_only, write_only = self._marked
        return name in (read_only if direction == "request" else write_only)
