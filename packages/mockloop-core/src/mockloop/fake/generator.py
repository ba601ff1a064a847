"""`SchemaFaker`: deterministic, schema-valid data with realistic leaves.

Schemas are JSON Schema 2020-12 with local `$ref`s into a document (what `mockloop.spec`
produces); OpenAPI 3.0 leftovers (`nullable`, a single `example`) are tolerated. The RNG is
seeded from (seed, key) through SHA-256, so the same request gives the same data in any process.
Recursion is cut at `max_depth` (and a reference met twice on the way down counts as deep): past
it only required properties and minimal arrays are generated, and null is chosen where allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
import sys
from typing import Any
from urllib.parse import unquote

import rstr

from mockloop.fake.names import WORDS, format_value, value_for_name
from mockloop.spec.validation import SchemaValidator

__all__ = ["SchemaFaker"]


class _ShortXeger(rstr.Xeger):  # pyright: ignore[reportPrivateImportUsage]
    """rstr, but `*`, `+` and `{n,}` repeat at most 8 times beyond their minimum (rstr allows
    100), which keeps generated strings readable and within typical `maxLength`s. Explicit
    counts such as `{32}` are untouched."""

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        if end_range > 1000:  # unbounded: sre's MAXREPEAT
            end_range = start_range + 8
        return super()._handle_repeat(start_range, end_range, value)


_HARD_DEPTH = 12
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_NUMERIC_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


class _Ctx:
    __slots__ = ("for_response", "refs", "rng")

    def __init__(self, rng: random.Random, for_response: bool) -> None:
        self.rng = rng
        self.for_response = for_response
        self.refs: dict[str, int] = {}


class SchemaFaker:
    """Generates values for schemas of one document."""

    def __init__(
        self, document: dict[str, Any], *, seed: int = 0, max_depth: int = 5, max_items: int = 3
    ) -> None:
        self.document = document
        self.seed = seed
        self.max_depth = max_depth
        self.max_items = max_items
        self.validator = SchemaValidator(document)
        self._refs: dict[str, Any] = {}
        self._example_ok: dict[int, tuple[Any, Any]] = {}
        self._merged: dict[int, tuple[Any, dict[str, Any]]] = {}

    # -- public -----------------------------------------------------------------------------

    def generate(
        self,
        schema: Any,
        *,
        key: str = "",
        field_name: str | None = None,
        for_response: bool = True,
    ) -> Any:
        """A value valid against `schema`, the same for the same seed and key."""
        digest = hashlib.sha256(f"{self.seed}\x00{key}".encode()).digest()
        ctx = _Ctx(random.Random(int.from_bytes(digest[:8], "big")), for_response)
        limit = sys.getrecursionlimit()
        try:
            return self._value(schema, ctx, field_name, 0)
        except RecursionError:  # pragma: no cover - the depth bounds should prevent it
            sys.setrecursionlimit(limit)
            return None

    # -- dispatch ---------------------------------------------------------------------------

    def _resolve(self, ref: str) -> Any:
        if ref in self._refs:
            return self._refs[ref]
        node: Any = self.document
        if ref.startswith("#"):
            for token in unquote(ref[1:]).split("/")[1:]:
                token = token.replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and token in node:
                    node = node[token]
                elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    node = node[int(token)]
                else:
                    node = {}
                    break
        else:
            node = {}
        self._refs[ref] = node
        return node

    def _value(self, schema: Any, ctx: _Ctx, name: str | None, depth: int) -> Any:
        if schema is True or schema is None:
            schema = {}
        if schema is False or not isinstance(schema, dict):
            return None
        if depth > _HARD_DEPTH:
            return _smallest(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            ctx.refs[ref] = ctx.refs.get(ref, 0) + 1
            try:
                if siblings and any(k not in ("description", "title") for k in siblings):
                    return self._value({"allOf": [target, siblings]}, ctx, name, depth)
                return self._value(target, ctx, name, depth)
            finally:
                ctx.refs[ref] -= 1
        example = self._example(schema)
        if example is not _NO_EXAMPLE:
            return example
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if "allOf" in schema:
            return self._value(self._merge(schema), ctx, name, depth)
        for keyword in ("oneOf", "anyOf"):
            if isinstance(schema.get(keyword), list) and schema[keyword]:
                return self._choice(schema, keyword, ctx, name, depth)
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._enum(schema, ctx)
        kind = self._kind(schema, ctx, depth)
        if kind == "null":
            return None
        if kind == "object":
            return self._object(schema, ctx, depth)
        if kind == "array":
            return self._array(schema, ctx, name, depth)
        if kind == "integer":
            return self._number(schema, ctx, name, integer=True)
        if kind == "number":
            return self._number(schema, ctx, name, integer=False)
        if kind == "boolean":
            return ctx.rng.random() < 0.5
        return self._string(schema, ctx, name)

    def _deep(self, ctx: _Ctx, depth: int) -> bool:
        return depth >= self.max_depth or any(count > 1 for count in ctx.refs.values())

    def _kind(self, schema: dict[str, Any], ctx: _Ctx, depth: int) -> str:
        kind = schema.get("type")
        nullable = schema.get("nullable") is True
        if isinstance(kind, list):
            options = [k for k in kind if isinstance(k, str)]
            if "null" in options:
                nullable = True
            options = [k for k in options if k != "null"] or ["null"]
            kind = options[0]
        if nullable and self._deep(ctx, depth):
            return "null"
        if isinstance(kind, str):
            return kind
        if any(
            k in schema
            for k in (
                "properties",
                "required",
                "additionalProperties",
                "patternProperties",
                "minProperties",
            )
        ):
            return "object"
        if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
            return "array"
        if any(k in schema for k in _NUMERIC_KEYS):
            return "number"
        return "string"

    # -- examples, enums, combinators -------------------------------------------------------

    def _example(self, schema: dict[str, Any]) -> Any:
        cached = self._example_ok.get(id(schema))
        if cached is not None and cached[0] is schema:
            value = cached[1]
            return copy.deepcopy(value) if value is not _NO_EXAMPLE else _NO_EXAMPLE
        candidates = []
        if isinstance(schema.get("examples"), list):
            candidates.extend(schema["examples"])
        if "example" in schema:
            candidates.append(schema["example"])
        chosen: Any = _NO_EXAMPLE
        for candidate in candidates:
            if candidate is not None and self.validator.is_valid(
                schema, candidate, direction="response"
            ):
                chosen = candidate
                break
        self._example_ok[id(schema)] = (schema, chosen)
        return copy.deepcopy(chosen) if chosen is not _NO_EXAMPLE else _NO_EXAMPLE

    def _enum(self, schema: dict[str, Any], ctx: _Ctx) -> Any:
        members = [m for m in schema["enum"] if m is not None] or schema["enum"]
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
        if kinds:
            typed = [
                m
                for m in members
                if _json_type(m) in kinds or (_json_type(m) == "integer" and "number" in kinds)
            ]
            members = typed or members
        return copy.deepcopy(ctx.rng.choice(members))

    def _choice(
        self, schema: dict[str, Any], keyword: str, ctx: _Ctx, name: str | None, depth: int
    ) -> Any:
        branches = list(schema[keyword])
        rest = {k: v for k, v in schema.items() if k not in (keyword, "discriminator")}
        non_null = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if len(non_null) < len(branches) and self._deep(ctx, depth):
            return None
        order = non_null or branches
        ctx.rng.shuffle(order)
        if self._deep(ctx, depth):  # prefer branches that do not recurse further
            order.sort(key=lambda b: isinstance(b, dict) and b.get("$ref") in ctx.refs)
        discriminator = (
            schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        )
        fallback: Any = _NO_EXAMPLE
        # Overlapping branches may need a few draws before one value fits exactly one of them.
        for branch in [b for _ in range(5) for b in order[:6]]:
            candidate_schema = {"allOf": [rest, branch]} if rest else branch
            value = self._value(candidate_schema, ctx, name, depth)
            if discriminator and isinstance(value, dict) and isinstance(branch, dict):
                self._discriminate(value, branch, discriminator)
            if fallback is _NO_EXAMPLE:
                fallback = value
            if keyword == "anyOf":
                return value
            matches = sum(self.validator.is_valid(b, value, direction="response") for b in branches)
            if matches == 1:
                return value
        return fallback

    def _discriminate(
        self, value: dict[str, Any], branch: dict[str, Any], discriminator: dict[str, Any]
    ) -> None:
        prop = discriminator.get("propertyName")
        ref = branch.get("$ref")
        if not isinstance(prop, str) or not isinstance(ref, str):
            return
        mapping = discriminator.get("mapping") or {}
        label = next((k for k, v in mapping.items() if v == ref or v.endswith("/" + ref)), None)
        if label is None:
            label = unquote(ref.rsplit("/", 1)[-1])
        value[prop] = label

    def _merge(self, schema: dict[str, Any]) -> dict[str, Any]:
        cached = self._merged.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for branch in self._flatten(schema, 0):
            _merge_into(merged, branch)
        self._merged[id(schema)] = (schema, merged)
        return merged

    def _flatten(self, schema: dict[str, Any], depth: int) -> list[dict[str, Any]]:
        result = []
        for branch in schema.get("allOf") or []:
            seen = 0
            while isinstance(branch, dict) and "$ref" in branch and seen < 20:
                extra = {k: v for k, v in branch.items() if k != "$ref"}
                branch = self._resolve(branch["$ref"])
                if extra and isinstance(branch, dict):
                    branch = {**branch, **extra}
                seen += 1
            if not isinstance(branch, dict):
                continue
            if "allOf" in branch and depth < 20:
                result.extend(self._flatten(branch, depth + 1))
                own = {k: v for k, v in branch.items() if k != "allOf"}
                if own:
                    result.append(own)
            else:
                result.append(branch)
        return result

    # -- containers -------------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], ctx: _Ctx, depth: int) -> dict[str, Any]:
        raw_properties = schema.get("properties")
        properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        for trigger, needed in (schema.get("dependentRequired") or {}).items():
            if trigger in required and isinstance(needed, list):
                required.extend(n for n in needed if n not in required)
        deep = self._deep(ctx, depth)
        hidden = "writeOnly" if ctx.for_response else "readOnly"
        names = list(required) + [p for p in properties if p not in required and not deep]
        maximum = schema.get("maxProperties")
        if isinstance(maximum, int):
            names = names[: max(maximum, len(required))]
        result: dict[str, Any] = {}
        for prop in names:
            sub = properties.get(prop, schema.get("additionalProperties", {}))
            if isinstance(sub, dict) and self._flag(sub, hidden):
                continue
            if sub is False:
                continue
            result[prop] = self._value(sub, ctx, prop, depth + 1)
        minimum = schema.get("minProperties") or 0
        extra_schema = schema.get("additionalProperties")
        patterns = (
            schema.get("patternProperties")
            if isinstance(schema.get("patternProperties"), dict)
            else {}
        )
        if not properties and not deep and (isinstance(extra_schema, dict) or patterns):
            minimum = max(minimum, 1)
        index = 0
        while len(result) < minimum and index < 20:
            index += 1
            if patterns:
                pattern, sub = next(iter(patterns.items()))
                key = _string_for_pattern(pattern, ctx.rng) or f"key{index}"
            elif extra_schema is not False:
                sub = extra_schema if isinstance(extra_schema, dict) else {}
                key = f"{ctx.rng.choice(WORDS)}{index}"
            else:
                break
            result.setdefault(key, self._value(sub, ctx, key, depth + 1))
        return result

    def _flag(self, schema: dict[str, Any], flag: str) -> bool:
        seen = 0
        while "$ref" in schema and seen < 10 and schema.get(flag) is None:
            schema = self._resolve(schema["$ref"])
            if not isinstance(schema, dict):
                return False
            seen += 1
        return schema.get(flag) is True

    def _array(self, schema: dict[str, Any], ctx: _Ctx, name: str | None, depth: int) -> list:
        low = _int(schema.get("minItems"), 0)
        high = _int(schema.get("maxItems"), max(low, self.max_items))
        high = max(low, min(high, max(low, self.max_items)))
        deep = self._deep(ctx, depth)
        count = low if deep else ctx.rng.randint(max(low, min(1, high)), high)
        raw_prefix = schema.get("prefixItems")
        prefix: list[Any] = raw_prefix if isinstance(raw_prefix, list) else []
        items = schema.get("items", {})
        singular = name[:-1] if name and name.endswith("s") else name
        result: list[Any] = []
        unique = schema.get("uniqueItems") is True
        seen: set[str] = set()
        attempts = 0
        while len(result) < count and attempts < count * 5 + 5:
            attempts += 1
            position = len(result)
            sub = prefix[position] if position < len(prefix) else items
            if sub is False:
                break
            value = self._value(sub, ctx, singular, depth + 1)
            if unique:
                marker = json.dumps(value, sort_keys=True, default=str)
                if marker in seen:
                    continue
                seen.add(marker)
            result.append(value)
        return result

    # -- scalars ----------------------------------------------------------------------------

    def _number(
        self, schema: dict[str, Any], ctx: _Ctx, name: str | None, *, integer: bool
    ) -> int | float:
        fmt = schema.get("format")
        bounds = _INT32 if fmt == "int32" else _INT64
        low = _num(schema.get("minimum"))
        high = _num(schema.get("maximum"))
        ex_low = _num(schema.get("exclusiveMinimum"))
        ex_high = _num(schema.get("exclusiveMaximum"))
        step = _num(schema.get("multipleOf"))
        if step is not None and step <= 0:
            step = None
        tiny = 1 if integer else 1e-6
        lo = (
            max(
                x
                for x in (low, None if ex_low is None else ex_low + tiny, bounds[0])
                if x is not None
            )
            if integer
            else max(
                [x for x in (low, None if ex_low is None else ex_low + tiny) if x is not None],
                default=None,
            )
        )
        hi = (
            min(
                x
                for x in (high, None if ex_high is None else ex_high - tiny, bounds[1])
                if x is not None
            )
            if integer
            else min(
                [x for x in (high, None if ex_high is None else ex_high - tiny) if x is not None],
                default=None,
            )
        )
        proposal = value_for_name(name, "integer" if integer else "number", ctx.rng)
        if proposal is None:
            proposal = ctx.rng.randint(1, 1000) if integer else round(ctx.rng.uniform(1, 1000), 2)
        value: float = proposal
        if lo is not None and hi is not None and lo > hi:
            return int(lo) if integer else lo  # contradictory bounds: the best we can do
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            a = lo if lo is not None else (hi - 1000 if hi is not None else 0)
            b = hi if hi is not None else a + 1000
            value = (
                ctx.rng.uniform(a, b)
                if not integer
                else ctx.rng.randint(math.ceil(a), math.floor(b))
                if math.ceil(a) <= math.floor(b)
                else math.ceil(a)
            )
            if not integer:
                rounded = round(value, 2)
                value = (
                    rounded
                    if (lo is None or rounded >= lo) and (hi is None or rounded <= hi)
                    else value
                )
        if step is not None:
            value = _snap(value, step, lo, hi)
        if integer:
            return int(value)
        return float(value)

    def _string(self, schema: dict[str, Any], ctx: _Ctx, name: str | None) -> str:
        fmt = schema.get("format") if isinstance(schema.get("format"), str) else None
        pattern = schema.get("pattern") if isinstance(schema.get("pattern"), str) else None
        low = _int(schema.get("minLength"), 0)
        high = _int(schema.get("maxLength"), max(low, 64))
        candidates: list[Any] = []
        if pattern:
            candidates.append(_string_for_pattern(pattern, ctx.rng, low, high))
        if fmt:
            candidates.append(format_value(fmt, ctx.rng))
        candidates.append(value_for_name(name, "string", ctx.rng))
        candidates.append(f"{ctx.rng.choice(WORDS)}-{ctx.rng.randint(1, 999)}")
        for candidate in candidates:
            if (
                isinstance(candidate, str)
                and low <= len(candidate) <= high
                and (pattern is None or _search(pattern, candidate))
                and (
                    fmt is None
                    or candidate is candidates[0]
                    or self._fits_format(schema, candidate)
                )
            ):
                return candidate
        base = next((c for c in candidates if isinstance(c, str)), "x") or "x"
        if len(base) < low:
            base = base + "x" * (low - len(base))
        return base[:high] if high >= low else base

    def _fits_format(self, schema: dict[str, Any], candidate: str) -> bool:
        return self.validator.is_valid({"type": "string", "format": schema["format"]}, candidate)


class _NoExample:
    def __repr__(self) -> str:
        return "<no example>"


_NO_EXAMPLE: Any = _NoExample()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _int(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(step, float) or isinstance(value, float):
        quotient = value / step
        try:
            return int(quotient) == quotient
        except OverflowError:
            return False
    return value % step == 0


def _snap(value: float, step: float, lo: float | None, hi: float | None) -> float:
    first = math.ceil((lo if lo is not None else value) / step)
    last = math.floor((hi if hi is not None else value + step * 100) / step)
    if first > last:
        return value
    k = min(max(round(value / step), first), last)
    for candidate_k in (k, first, last, *range(first, min(last, first + 50) + 1)):
        candidate = candidate_k * step
        if isinstance(step, float):
            candidate = round(candidate, 10)
            if candidate == int(candidate):
                candidate = float(int(candidate))
        if (
            _is_multiple(candidate, step)
            and (lo is None or candidate >= lo)
            and (hi is None or candidate <= hi)
        ):
            return candidate
    return value


# Ranges such as [\u0020-\uFFFF] include lone surrogates, which no UTF-8 body can carry.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # an unusable pattern constrains nothing we can check


def _string_for_pattern(
    pattern: str, rng: random.Random, low: int = 0, high: int = 64
) -> str | None:
    generator = _ShortXeger(rng, whitespace=" ")  # no vertical tabs or form feeds in data
    for _ in range(12):
        try:
            text = generator.xeger(pattern)
        except Exception:  # unsupported syntax (lookarounds, backreferences ...)
            return None
        if low <= len(text) <= high and _search(pattern, text) and not _SURROGATE.search(text):
            return text
    return None


def _merge_into(target: dict[str, Any], branch: dict[str, Any]) -> None:
    for key, value in branch.items():
        if key == "properties" and isinstance(value, dict):
            properties = dict(target.get("properties") or {})
            for prop, sub in value.items():
                if prop in properties and properties[prop] != sub:
                    properties[prop] = {"allOf": [properties[prop], sub]}
                else:
                    properties[prop] = sub
            target["properties"] = properties
        elif key == "required" and isinstance(value, list):
            target["required"] = list(dict.fromkeys([*(target.get("required") or []), *value]))
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                current = target.get(key)
                target[key] = value if current is None else max(current, value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                current = target.get(key)
                target[key] = value if current is None else min(current, value)
        elif key == "type" and "type" in target and target["type"] != value:
            mine = target["type"] if isinstance(target["type"], list) else [target["type"]]
            theirs = value if isinstance(value, list) else [value]
            common = [t for t in mine if t in theirs] or mine
            target["type"] = common if len(common) > 1 else common[0]
        elif key in ("example", "examples"):
            continue  # an example of one branch is not an example of the whole
        elif key not in target:
            target[key] = value


def _smallest(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" in kinds:
        return None
    for k, value in (
        ("object", {}),
        ("array", []),
        ("string", ""),
        ("integer", 0),
        ("number", 0),
        ("boolean", False),
    ):
        if k in kinds:
            return value
    return None
