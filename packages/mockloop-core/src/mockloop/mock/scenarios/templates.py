"""Response templating: a rule's body and headers may echo the request and generate values.

    {"operation": "getPet", "body": {"id": "{{path.petId | int}}", "name": "{{fake.name}}",
     "requested_at": "{{now}}", "tenant": "{{header.X-Tenant | default('a')}}"}}

A template is `{{ value | filter | ... }}` inside any string of `body`, `error_body` or a
header value. Values:

* `path.NAME`, `query.NAME`, `header.NAME` (any case), `cookie.NAME`, `session` (X-Session-ID);
* `body` (the whole JSON body), `body.a.b[0]` (a field of it, as JSONPath `$.a.b[0]`);
* `method`, `url` (path and query as requested);
* `now` (ISO 8601, UTC), `now.epoch`, `now.epoch_ms`, `now.date`;
* `uuid` (a fresh UUID 4), `random.int(LOW, HIGH)`;
* `fake.NAME`: a realistic value for a field called NAME (`fake.email`, `fake.city`,
  `fake.company`, ...), from Faker's data in the mock's locale (`--locale`).

Filters: `upper`, `lower`, `int`, `number`, `bool`, `json` (the value as JSON), and
`default(VALUE)` (used when the value is missing; VALUE is a JSON literal). A string that is
one template only, ending in `int`, `number`, `bool` or `json`, becomes that JSON value (so
`"{{path.petId | int}}"` is the number 7); anywhere else values are inserted as text.

Templates are parsed when the rule is saved: an unknown value or filter, or a malformed
template, is a validation error naming the field. While answering, a missing value is empty
(or its default) and a value a filter cannot convert is left as text: never a 500. No code
runs: this is a closed set of values and filters, not an expression language.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from mockloop.mock.scenarios.matching import (
    HEADER_NAME,
    RequestView,
    json_path,
    parse_json_path,
)

__all__ = [
    "RenderContext",
    "Template",
    "TooLarge",
    "has_templates",
    "header_text",
    "parse_template",
    "render_response",
    "render_value",
    "template_problems",
]

_FILTER = re.compile(r"^([a-z]+)(?:\((.*)\))?$", re.DOTALL)
_RANDOM_INT = re.compile(r"^random\.int\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$")
_NAMED = re.compile(r"^(path|query|header|cookie|fake)\.([^\s|]+)$")
_SIMPLE = {
    "session",
    "body",
    "method",
    "url",
    "now",
    "now.epoch",
    "now.epoch_ms",
    "now.date",
    "uuid",
}
_TYPING = {"int", "number", "bool", "json"}
_INT_LIMIT = 2**63
_FILTERS = {"upper", "lower", *_TYPING, "default"}
_MAX_TEMPLATES = 200  # per string: a rule is data, not a program


@dataclass(frozen=True)
class _Part:
    text: str | None  # literal text, or None for a value
    value: str = ""
    filters: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Template:
    """A parsed string: literal text and values, and whether it is one typed value."""

    parts: tuple[_Part, ...]
    typed: bool

    def render(self, context: RenderContext) -> Any:
        """The rendered value; TooLarge when it would outgrow the context's room."""
        if self.typed:
            value = _value(self.parts[0], context)
            context.charge(len(value) if isinstance(value, str) else len(_text(value)))
            return value
        out = []
        for part in self.parts:
            piece = part.text
            if piece is None:
                value = _value(part, context)
                piece = value if isinstance(value, str) else _text(value)
            context.charge(len(piece))
            out.append(piece)
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """`text` parsed into literal parts and values.

    Raises:
        ValueError: an unknown value or filter, or a malformed template, with what is accepted.
    """
    parts: list[_Part] = []
    position = 0
    count = 0
    while True:  # one pass with str.find: linear in the text, whatever it holds
        start = text.find("{{", position)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise ValueError(
                f"a template is not closed: {text[start:][:40]!r} (write {{{{ value }}}})"
            )
        count += 1
        if count > _MAX_TEMPLATES:
            raise ValueError(f"more than {_MAX_TEMPLATES} templates in one string")
        if start > position:
            parts.append(_Part(text[position:start]))
        parts.append(_parse_value(text[start + 2 : end]))
        position = end + 2
    if position < len(text):
        parts.append(_Part(text[position:]))
    typed = (
        len(parts) == 1
        and parts[0].text is None
        and bool(parts[0].filters)
        and parts[0].filters[-1][0] in _TYPING
    )
    return Template(tuple(parts), typed)


def _parse_value(source: str) -> _Part:
    pieces = [piece.strip() for piece in source.split("|")]
    value, raw_filters = pieces[0], pieces[1:]
    if not value:
        raise ValueError("an empty template {{ }}: name a value such as path.id or now")
    ranged = _RANDOM_INT.match(value)
    if ranged and any(abs(int(bound)) > _INT_LIMIT for bound in ranged.groups()):
        raise ValueError(f"{value}: the bounds must lie within ±2**63")
    named = _NAMED.match(value)
    if named and named.group(1) in ("header", "cookie") and not HEADER_NAME.match(named.group(2)):
        raise ValueError(
            f"{value!r}: {named.group(2)!r} is not a {named.group(1)} name (letters, digits and "
            "!#$%&'*+-.^_`|~ only)"
        )
    if not (value in _SIMPLE or named or ranged):
        if value.startswith("body."):
            parse_json_path("$." + value[5:])  # ValueError naming the path
        else:
            raise ValueError(
                f"unknown template value {value!r}: use path.NAME, query.NAME, header.NAME, "
                "cookie.NAME, session, body, body.FIELD, method, url, now, now.epoch, "
                "now.epoch_ms, now.date, uuid, random.int(LOW, HIGH) or fake.NAME"
            )
    filters = []
    for raw in raw_filters:
        found = _FILTER.match(raw)
        name = found.group(1) if found else raw
        if found is None or name not in _FILTERS:
            raise ValueError(
                f"unknown template filter {raw!r}: use upper, lower, int, number, bool, json "
                "or default(VALUE)"
            )
        argument = None
        if name == "default":
            if found.group(2) is None:
                raise ValueError("default needs a value: default('none') or default(0)")
            literal = found.group(2).strip()
            if literal.startswith("'") and literal.endswith("'"):
                literal = orjson.dumps(literal[1:-1]).decode()
            try:
                argument = orjson.loads(literal)
            except orjson.JSONDecodeError:
                raise ValueError(
                    f"default({found.group(2)}): the value is not a JSON literal "
                    "(quote text: default('none'))"
                ) from None
        elif found.group(2) is not None:
            raise ValueError(f"the filter {name} takes no argument")
        filters.append((name, argument))
    return _Part(None, value, tuple(filters))


class TooLarge(Exception):
    """Rendering would build more than the context's room (the mock's response size limit)."""


class RenderContext:
    """What one request offers to templates, and the room the rendered answer may take."""

    __slots__ = ("locale", "method", "path", "request", "rng", "room")

    def __init__(
        self,
        request: RequestView,
        method: str,
        path: str,
        rng: random.Random,
        room: int = 1024 * 1024,
        locale: str = "en_US",
    ) -> None:
        self.request = request
        self.locale = locale  # of `fake.NAME` values (a Faker locale, MockConfig.locale)
        self.method = method
        self.path = path
        self.rng = rng
        self.room = room

    def charge(self, size: int) -> None:
        """Take `size` characters of the room; TooLarge once it is used up."""
        self.room -= size
        if self.room < 0:
            raise TooLarge


_MISSING = object()


def _value(part: _Part, context: RenderContext) -> Any:
    value = _lookup(part.value, context)
    for name, argument in part.filters:
        if name == "default":
            if value is _MISSING or value == "":
                value = argument
            continue
        if value is _MISSING:
            continue
        value = _filtered(name, value)
    return "" if value is _MISSING else value


def _lookup(name: str, context: RenderContext) -> Any:
    request = context.request
    source, _, key = name.partition(".")
    if source == "path" and key:
        return request.path_params.get(key, _MISSING)
    if source == "query" and key:
        values = request.query_values(key)
        return values[0] if values else _MISSING
    if source == "header" and key:
        found = request.header(key)
        return _MISSING if found is None else found
    if source == "cookie" and key:
        values = request.cookie_values(key)
        return values[0] if values else _MISSING
    if name == "session":
        found = request.header("x-session-id")
        return _MISSING if found is None else found
    if source == "body":
        document = request.json()
        if not isinstance(document, (dict, list, str, int, float, bool)) and document is not None:
            return _MISSING
        if not key:
            return document
        found = list(json_path(document, "$." + key))
        return found[0] if found else _MISSING
    if name == "method":
        return context.method
    if name == "url":
        return context.path + (f"?{request.query}" if request.query else "")
    if source == "now":
        moment = datetime.now(UTC)
        if key == "epoch":
            return int(moment.timestamp())
        if key == "epoch_ms":
            return int(moment.timestamp() * 1000)
        if key == "date":
            return moment.date().isoformat()
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if name == "uuid":
        return str(uuid.uuid4())
    ranged = _RANDOM_INT.match(name)
    if ranged:
        low, high = sorted((int(ranged.group(1)), int(ranged.group(2))))
        return context.rng.randint(low, high)
    if source == "fake" and key:
        from mockloop.fake.values import value_for_name

        found = value_for_name(key, "string", context.rng, context.locale)
        if isinstance(found, (tuple, list)):  # alternatives, best first
            found = found[0] if found else None
        if found is None:  # a number by its name (price, age, latitude), else a word
            found = value_for_name(key, "number", context.rng)
        if found is None:
            found = value_for_name("name", "string", context.rng, context.locale)
        return _MISSING if found is None else found
    return _MISSING


def _filtered(name: str, value: Any) -> Any:
    try:
        if name == "upper":
            return _text(value).upper()
        if name == "lower":
            return _text(value).lower()
        if name == "int":
            result = int(float(value)) if not isinstance(value, bool) else int(value)
            return result if abs(result) < _INT_LIMIT else value  # JSON-safe, else as it was
        if name == "number":
            number = float(value)
            if not math.isfinite(number) or abs(number) >= _INT_LIMIT:
                return value
            return int(number) if number.is_integer() and "." not in str(value) else number
        if name == "bool":
            if isinstance(value, str):
                return value.strip().lower() in ("true", "1", "yes", "on")
            return bool(value)
        if name == "json":
            return value if not isinstance(value, str) else orjson.loads(value)
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        return value  # left as it was: never a failed answer
    return value


def _text(value: Any) -> str:
    """Any value as text; never raises (orjson refuses integers past 64 bits: json does not)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, default=str)


# -- bodies and headers -----------------------------------------------------------------------


def has_templates(value: Any) -> bool:
    """Whether a body (any JSON value) holds a `{{` anywhere in its strings."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(has_templates(item) for item in value.values())
    if isinstance(value, list):
        return any(has_templates(item) for item in value)
    return False


def template_problems(value: Any, where: str) -> list[str]:
    """Each malformed template in a body or header value, located (`body.id: ...`)."""
    problems: list[str] = []
    if isinstance(value, str):
        if "{{" in value:
            try:
                parse_template(value)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
    elif isinstance(value, dict):
        for key, item in value.items():
            problems.extend(template_problems(item, f"{where}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(template_problems(item, f"{where}[{index}]"))
    return problems


def render_value(value: Any, context: RenderContext) -> Any:
    """A body with every template rendered (the structure copied where it changes)."""
    if isinstance(value, str):
        return parse_template(value).render(context) if "{{" in value else value
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def header_text(value: Any) -> str:
    """A header value from any rendered value: one line of Latin-1 without control characters
    (a request's text echoed back must neither split nor break the header block)."""
    text = _CONTROL.sub(" ", _text(value))
    return text.encode("latin-1", "replace").decode("latin-1")


def render_response(response: Any, context: RenderContext) -> Any:
    """A copy of a rule's response (`ResponseSpec`) with its body and header values rendered
    from this request; TooLarge when they would outgrow the context's room."""
    changes: dict[str, Any] = {}
    if response.has_body:
        changes["body"] = render_value(response.body, context)
    if response.headers:
        changes["headers"] = {
            name: header_text(render_value(value, context))
            for name, value in response.headers.items()
        }
    return response.model_copy(update=changes)
