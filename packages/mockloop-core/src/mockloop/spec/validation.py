"""Validating values against the schemas of a loaded description.

Schemas of the model are JSON Schema 2020-12 whose `$ref`s point into `ApiSpec.document`; the
document is registered once and every validator resolves against it. Validators are compiled
once per schema object. Formats are checked only for date-time, date, email, uuid, ipv4, ipv6
and uri; every other format (int32, int64, password, vendor formats) is an annotation.

Real descriptions carry schemas jsonschema cannot use: a regex Python cannot compile, a `$ref`
into nowhere, a `minimum` written as a string. Each keyword is guarded: one that fails reports
no errors, the failure is remembered in `SchemaValidator.broken`, and nothing ever raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["CHECKED_FORMATS", "FORMAT_CHECKER", "SchemaValidator", "marked_properties"]

CHECKED_FORMATS = ("date-time", "date", "email", "uuid", "ipv4", "ipv6", "uri")

_DOC_URI = "urn:mockloop:document"
_MISSING = re.compile(r"^'(.+)' is a required property$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$", re.ASCII
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_MAX_MESSAGE = 300
_MAX_CACHED = 50_000

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
                for name, keyword in Draft202012Validator.VALIDATORS.items()
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
