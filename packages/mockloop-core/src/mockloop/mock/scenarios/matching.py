"""Request matching: a rule's `when` selects requests, not only operations.

    {"operation": "getPet", "when": {"path": {"petId": "999"}}, "status": 404}
    {"method": "POST", "path": "/payments", "when": {"body": {"$.currency": "XXX"}}, "status": 422}
    {"operation": "listPets", "when": {"headers": {"X-Tenant": "b"}}, "body": [...]}

`when` tests, all of which must hold:

* `path`, `query`, `headers` (names in any case), `cookies`: a value per name;
* `session`: the `X-Session-ID` header;
* `body`: a value per JSONPath into the JSON body (`$.currency`, `$.items[0].sku`,
  `$.items[*].sku`: any element; filters such as `$.items[?@.price > 10]`; the dialect of test
  plans, python-jsonpath, without its regex functions), and `body_partial`: a JSON value the
  body must contain (objects: every key given, recursively; arrays: each element given matches
  some element).

A test is a value (equal to it; a request's text `"5"` equals `5`) or an object with one of
`equals`, `regex` (RE2: linear time, refused at validation when RE2 cannot run it exactly),
`present` (true: there; false: absent), `one_of` (a list), `min`/`max` (numbers, inclusive).
A query parameter given several times, or a JSONPath reaching several values, matches when any
value does. Rules are tried in order; the first whose `when` holds (or that has none) answers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mockloop.mock.scenarios.body_conditions import BodyCheck
from mockloop.spec.model import Operation
from mockloop.spec.patterns import compile_pattern

__all__ = ["HEADER_NAME", "Matcher", "RequestView", "Test", "When", "json_path", "when_problems"]

Scalar = str | int | float | bool
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP field name (RFC 9110 token): what header and cookie names in rules may be."""


class Test(BaseModel):
    """One test of a value; give exactly one of its keys (min and max may go together)."""

    model_config = ConfigDict(extra="forbid")

    equals: Scalar | None = Field(default=None, description="the value itself", examples=["999"])
    regex: str | None = Field(
        default=None,
        description="an RE2 regular expression searched in the value (linear time)",
        examples=["^sold"],
    )
    present: bool | None = Field(
        default=None, description="true: the value is there; false: it is absent", examples=[True]
    )
    one_of: list[Scalar] | None = Field(
        default=None, description="the value is one of these", examples=[["a", "b"]]
    )
    min: float | None = Field(default=None, description="a number at least this", examples=[10])
    max: float | None = Field(default=None, description="a number at most this", examples=[99])

    @field_validator("regex")
    @classmethod
    def _linear(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        compiled = compile_pattern(pattern)
        if not compiled.exact or not compiled.checked:
            why = compiled.note or "RE2 cannot run it"
            raise ValueError(f"regex {pattern!r} cannot be matched in linear time: {why}")
        return pattern

    @model_validator(mode="after")
    def _one(self) -> Test:
        given = [
            name
            for name in ("equals", "regex", "present", "one_of")
            if getattr(self, name) is not None
        ]
        ranged = self.min is not None or self.max is not None
        if len(given) + ranged != 1:
            raise ValueError(
                "give exactly one of equals, regex, present, one_of, or min/max "
                f"(given: {', '.join(given + (['min/max'] if ranged else [])) or 'none'})"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def holds(self, values: list[Any]) -> bool:
        """Whether the test holds for a value that may be there several times (or not)."""
        if self.present is not None:
            return bool(values) is self.present
        return any(self._holds(value) for value in values)

    def _holds(self, value: Any) -> bool:
        if self.equals is not None:
            return _same(value, self.equals)
        if self.one_of is not None:
            return any(_same(value, option) for option in self.one_of)
        if self.regex is not None:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            return compile_pattern(self.regex).search(text)
        number = _number(value)
        if number is None:
            return False
        return (self.min is None or number >= self.min) and (self.max is None or number <= self.max)


Matcher = Scalar | Test


class When(BaseModel):
    """What a request must carry for the rule to answer it (every test given must hold)."""

    model_config = ConfigDict(extra="forbid")

    path: dict[str, Matcher] = Field(
        default_factory=dict, description="path parameters", examples=[{"petId": "999"}]
    )
    query: dict[str, Matcher] = Field(
        default_factory=dict,
        description="query parameters",
        examples=[{"status": {"one_of": ["sold", "pending"]}}],
    )
    headers: dict[str, Matcher] = Field(
        default_factory=dict,
        description="request headers (names in any case)",
        examples=[{"X-Tenant": "b"}],
    )
    cookies: dict[str, Matcher] = Field(
        default_factory=dict, description="cookies", examples=[{"plan": "free"}]
    )
    session: Matcher | None = Field(
        default=None, description="the X-Session-ID header", examples=["alice"]
    )
    body: dict[str, Matcher] = Field(
        default_factory=dict,
        description="JSONPath ($.a.b, $.items[0].sku, $.items[*].sku) to a test of the value",
        examples=[{"$.currency": "XXX"}],
    )
    body_partial: Any = Field(
        default=None,
        description="a JSON value the body must contain: objects every key given "
        "(recursively), arrays each element given",
        examples=[{"order": {"currency": "XXX"}}],
    )

    @field_validator("headers", "cookies")
    @classmethod
    def _names(cls, tests: dict[str, Matcher]) -> dict[str, Matcher]:
        for name in tests:
            if not HEADER_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a header or cookie name (letters, digits and "
                    "!#$%&'*+-.^_`|~ only)"
                )
        return tests

    @field_validator("body")
    @classmethod
    def _paths(cls, tests: dict[str, Matcher]) -> dict[str, Matcher]:
        for path in tests:
            parse_json_path(path)  # ValueError naming the path and the form expected
        return tests

    def holds(self, request: RequestView) -> bool:
        """Whether every test holds for this request."""
        for name, test in self.path.items():
            value = request.path_params.get(name)
            if not _check(test, [] if value is None else [value]):
                return False
        for name, test in self.query.items():
            if not _check(test, request.query_values(name)):
                return False
        for name, test in self.headers.items():
            if not _check(test, request.header_values(name)):
                return False
        for name, test in self.cookies.items():
            if not _check(test, request.cookie_values(name)):
                return False
        if self.session is not None and not _check(
            self.session, request.header_values("x-session-id")
        ):
            return False
        if self.body or self.body_partial is not None:
            document = request.json()
            if document is _NO_JSON:  # no JSON body: only `present: false` tests can hold
                return self.body_partial is None and all(
                    isinstance(t, Test) and t.present is False for t in self.body.values()
                )
            for path, test in self.body.items():
                if not _check(test, list(json_path(document, path))):
                    return False
            if self.body_partial is not None and not _contains(document, self.body_partial):
                return False
        return True


_NO_JSON = object()


class RequestView:
    """The parts of one request a `when` reads, each decoded on first use."""

    __slots__ = ("_body", "_cookies", "_headers", "_json", "_query", "path_params", "query")

    def __init__(
        self,
        path_params: Mapping[str, str],
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        self.path_params = path_params
        self.query = query
        self._headers = headers
        self._body = body
        self._query: dict[str, list[str]] | None = None
        self._cookies: dict[str, list[str]] | None = None
        self._json: Any = None

    def query_values(self, name: str) -> list[str]:
        if self._query is None:
            parsed: dict[str, list[str]] = {}
            for key, value in parse_qsl(self.query, keep_blank_values=True):
                parsed.setdefault(key, []).append(value)
            self._query = parsed
        return self._query.get(name, [])

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self._headers if key == wanted]

    def cookie_values(self, name: str) -> list[str]:
        if self._cookies is None:
            jar: dict[str, list[str]] = {}
            for header in self.header_values("cookie"):
                for part in header.split(";"):
                    key, sep, value = part.strip().partition("=")
                    if sep:
                        jar.setdefault(key, []).append(value.strip('"'))
            self._cookies = jar
        return self._cookies.get(name, [])

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body as JSON, or `_NO_JSON` when it is empty or not JSON."""
        if self._json is None:
            try:
                self._json = orjson.loads(self._body) if self._body else _NO_JSON
            except orjson.JSONDecodeError:
                self._json = _NO_JSON
        return self._json


def _check(test: Matcher, values: list[Any]) -> bool:
    if isinstance(test, Test):
        return test.holds(values)
    return any(_same(value, test) for value in values)


def _same(value: Any, expected: Scalar) -> bool:
    """Equal as JSON values; a request's text equals the scalar it spells (`"5"` == 5)."""
    if isinstance(value, str) and not isinstance(expected, str):
        if isinstance(expected, bool):
            return value.lower() == ("true" if expected else "false")
        number = _number(value)
        return number is not None and number == expected
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return value == expected


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _contains(document: Any, part: Any) -> bool:
    """Whether `document` contains `part` (objects: keys given; arrays: elements given)."""
    if isinstance(part, dict):
        return isinstance(document, dict) and all(
            key in document and _contains(document[key], value) for key, value in part.items()
        )
    if isinstance(part, list):
        return isinstance(document, list) and all(
            any(_contains(item, wanted) for item in document) for wanted in part
        )
    if isinstance(part, bool) or isinstance(document, bool):
        return document is part
    return document == part


# -- JSONPath ---------------------------------------------------------------------------------


@functools.cache
def _environment() -> Any:
    """The JSONPath of test plans (python-jsonpath, RFC 9535 with filters), without the
    functions that run a regular expression with Python's backtracking engine: a rule comes
    from whoever can reach the admin API, and `match`/`search` over a crafted pattern could
    hold the event loop. Imported on first use (a mock without body tests never loads it)."""
    import jsonpath

    environment = jsonpath.JSONPathEnvironment()
    for name in ("match", "search"):
        environment.function_extensions.pop(name, None)
    return environment


@functools.lru_cache(maxsize=1024)
def parse_json_path(path: str) -> Any:
    """`path` compiled (`$.a.b[0]`, `$.items[*].sku`, `$.items[?@.price > 10].sku`).

    Raises:
        ValueError: not a JSONPath, naming the path and the problem.
    """
    if not path.startswith("$"):
        raise ValueError(
            f"{path!r} is not a JSONPath: start at $ (such as $.currency or $.items[0].sku)"
        )
    if "=~" in path:
        raise ValueError(
            f"{path!r}: the =~ operator runs Python's backtracking regex engine; select the "
            "value with the path and test it with a `regex` test (RE2) instead"
        )
    import jsonpath

    try:
        return _environment().compile(path)
    except jsonpath.JSONPathError as exc:
        problem = str(exc).splitlines()[0]
        raise ValueError(f"{path!r} is not a JSONPath: {problem}") from None


def json_path(document: Any, path: str) -> Iterator[Any]:
    """Every value `path` reaches in `document` (none when it reaches nothing)."""
    import jsonpath

    try:
        yield from parse_json_path(path).findall(document)
    except jsonpath.JSONPathError:  # a filter that cannot apply to this document
        return


# -- checked against a description ---------------------------------------------------------------

_NUMERIC = ("integer", "number")


def when_problems(
    when: When, operations: list[Operation], document: Mapping[str, Any] | None = None
) -> list[tuple[str, str, Literal["error", "warning"]]]:
    """What in `when` cannot hold for the operations a rule selects: (location under `when`,
    message, severity). A path parameter no selected operation declares, or a test no declaring
    operation's parameter schema can hold, is an error (the rule could never answer); a query,
    header or cookie parameter the operations do not declare is a warning (a request may still
    carry it).

    Body tests are walked through the JSON request body schema (`body.$.a.b`,
    `body_partial.a.b`; see `body_conditions` for what is walked): a field no branch declares is
    an error when the object forbids others, else a warning; a test the field's type cannot
    pass is an error; an operation without a JSON body is a warning. `document` (the
    description's normalised document) resolves the schemas' `$ref`s; without it a `$ref` is
    taken as any value.
    """
    found: list[tuple[str, str, Literal["error", "warning"]]] = []
    sources = (("path", when.path), ("query", when.query))
    sources += (("header", when.headers), ("cookie", when.cookies))
    field_names = {"path": "path", "query": "query", "header": "headers", "cookie": "cookies"}
    for location, tests in sources:
        for name, test in tests.items():
            where = f"{field_names[location]}.{name}"
            declared = [
                p
                for op in operations
                for p in op.parameters
                if p.location == location and _same_name(p.name, name, location)
            ]
            if not declared:
                known = sorted(
                    {p.name for op in operations for p in op.parameters if p.location == location}
                )
                ids = ", ".join(op.operation_id for op in operations)
                message = (
                    f"{ids} declare{'s' if len(operations) == 1 else ''} no {location} "
                    f"parameter {name!r} (declared: {', '.join(known) or 'none'})"
                )
                if location == "path":
                    found.append((where, message + ": the rule could never answer", "error"))
                else:
                    found.append((where, message + ": a request may still carry it", "warning"))
                continue
            # An error only when every declaring operation's parameter rejects the test: the
            # rule answers the operations whose parameter can hold it.
            wrongs = [_type_problem(test, parameter.schema) for parameter in declared]
            if all(wrongs):
                found.append((where, f"{declared[0].name} is {wrongs[0]}", "error"))
    if when.body or when.body_partial is not None:
        found.extend(_body_problems(when, operations, document))
    return found


def _body_problems(
    when: When, operations: list[Operation], document: Mapping[str, Any] | None
) -> list[tuple[str, str, Literal["error", "warning"]]]:
    check = BodyCheck(operations, document, _type_problem)
    first = "body" if when.body else "body_partial"
    if check.no_body(first):
        return check.found
    for path, test in when.body.items():
        absent = isinstance(test, Test) and test.present is False
        check.path(path, test, absent)
    if when.body_partial is not None:
        check.partial(when.body_partial, check.roots(), "$", "body_partial")
    return check.found


def _same_name(declared: str, tested: str, location: str) -> bool:
    return declared.lower() == tested.lower() if location == "header" else declared == tested


def _type_problem(test: Matcher, schema: dict[str, Any]) -> str:
    """Why `test` can never hold for a value of `schema` ("" when it can)."""
    if not isinstance(schema, dict):
        return ""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    enum = schema.get("enum")
    enum = enum if isinstance(enum, list) and enum else None
    ranged = isinstance(test, Test) and (test.min is not None or test.max is not None)
    if ranged:
        if enum is not None and all(_number(v) is None for v in enum):
            return f"one of {enum}: min/max compare numbers"
        if kind and "string" not in kinds and not set(kinds) & set(_NUMERIC):
            return f"of type {kind}: min/max compare numbers"
        return ""
    if isinstance(test, Test):
        values = [test.equals] if test.equals is not None else list(test.one_of or [])
    else:
        values = [test]
    values = [value for value in values if value is not None]
    if (
        enum is not None
        and values
        and not any(
            _same(str(option), value) or option == value for value in values for option in enum
        )
    ):
        return f"one of {enum}: {', '.join(repr(v) for v in values)} never is"
    if not kind or "string" in kinds:
        return ""
    for value in values:
        if set(kinds) & set(_NUMERIC) and _number(value) is None:
            return f"of type {kind}: {value!r} is not a number"
        if "integer" in kinds and "number" not in kinds:
            number = _number(value)
            if number is not None and not float(number).is_integer():
                return f"of type integer: {value!r} is not an integer"
        if "boolean" in kinds and not (
            isinstance(value, bool) or str(value).lower() in ("true", "false")
        ):
            return f"of type boolean: {value!r} is not true or false"
    return ""
