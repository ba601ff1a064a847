"""`SchemaFaker`: deterministic, schema-valid data with realistic leaves.

Schemas are JSON Schema 2020-12 with local `$ref`s into a document; OpenAPI 3.0 leftovers
(`nullable`, a single `example`, boolean `exclusiveMinimum`) are tolerated. The RNG is seeded from
(seed, key) through SHA-256, so the same request gives the same data in any process.

Each schema is first reduced to an "effective" schema: `$ref`s resolved and `allOf` branches
merged (properties, required, bounds, types, enums), cached by object identity. Generation walks
the effective schema; combinators and the few keywords it cannot construct (`not`, `if`, a
second `pattern`) are checked with a validator and retried a bounded number of times; each
check, and all the checks of one call together, are bounded in validation steps
(`mockloop.spec.validation.WorkBudget`): past the bound a value is taken unchecked.

Recursion is cut at `max_depth`, and a `$ref` met twice on the way down counts as deep too: past
it only required properties and `minItems` items are generated, null is chosen for nullable
containers, and branches that do not recurse are preferred.

Every value is bounded in size: a byte budget (`max_bytes`, default 1 MiB) is carried through
the generation and charged as values are made. A schema that would expand beyond it (large
`minItems` nested, a huge `minLength`, an example or `const` that shares structure) gets
shorter arrays and strings, and examples that do not fit are left for generated data: the
value stays valid JSON, as close to the schema as the budget allows, and `generate_within`
says whether it was cut.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import random
import re
import threading
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import unquote

import orjson
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockloop.fake.budget import DEFAULT_MAX_BYTES, json_size
from mockloop.fake.exclusive import exclusive_object
from mockloop.fake.pools import DEFAULT_LOCALE, pools_built
from mockloop.fake.values import (
    WORDS,
    as_count,
    as_number,
    bounds,
    format_value,
    number_value,
    pattern_string,
    search,
    string_value,
    value_for_name,
)
from mockloop.spec.validation import (
    FORMAT_CHECKER,
    LINEAR_KEYWORDS,
    MAX_DEPTH,
    MAX_STEPS,
    WorkBudget,
    charge,
    deeper_than,
    marked_properties,
    schema_name,
)

__all__ = ["WARM_NAMES", "SchemaFaker"]

logger = logging.getLogger("mockloop.fake")

_KEY_COST = 4  # quotes, colon and comma around an object key
_MARGIN = 512  # bytes kept free of the budget for what is added uncounted

_DOC_URI = "urn:mockloop:fake-document"
_HARD = 8  # levels past max_depth that chains of required properties may still go
_BUDGET = 3000  # values per call before everything counts as deep
_RETRIES = 200  # validator-driven retries per call (oneOf, `not`...) before taking what comes
_CALL_STEPS = 5 * MAX_STEPS  # validation steps all the checks of one call may take together
_MAX_CACHED = 100_000
# Warm-up bounds: a description's pools are a bonus built ahead, never worth much CPU (the
# GitHub description has 4,174 property names in 57,017 nodes).
WARM_NAMES = 20_000  # property names looked at, repeats included
_WARM_NODES = 200_000  # nodes visited
_NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_OBJECT_KEYS = ("properties", "required", "additionalProperties", "patternProperties")
_OBJECT_KEYS += ("minProperties", "maxProperties", "propertyNames", "unevaluatedProperties")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")
_STRING_KEYS = ("minLength", "maxLength", "pattern")
_CHECKED = ("not", "if", "dependentSchemas", "\x00patterns")
_PEOPLE = ("person", "user", "customer", "owner", "author", "contact", "employee", "member")
_PEOPLE += ("account", "profile", "patient", "student", "client", "people", "staff", "agent")
_MISSING = re.compile(r"^'(.+)' is a required property$")


def _guard(keyword: Any) -> Any:
    def guarded(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        # Counted as `SchemaValidator` counts: a keyword looping over a long list costs more.
        charge(1 + (len(value) >> 3 if isinstance(value, (list, dict)) else 0))
        try:
            found = keyword(validator, value, instance, schema)
            if found is not None:
                yield from found
        except Exception:  # an unusable keyword (bad regex, dangling $ref) checks nothing
            return

    return guarded


_Validator = validators.extend(
    Draft202012Validator,
    {name: _guard(fn) for name, fn in (Draft202012Validator.VALIDATORS | LINEAR_KEYWORDS).items()},
)


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


_NONE: Any = _NoValue()


class _Ctx:
    __slots__ = (
        "cut",
        "for_response",
        "nest",
        "no_examples",
        "nodes",
        "refs",
        "repeats",
        "retries",
        "rng",
        "room",
        "sparse",
    )

    def __init__(self, rng: random.Random, for_response: bool, room: int) -> None:
        self.rng = rng
        self.room = room  # bytes of JSON the value may still take
        self.cut = False  # whether something was shortened or left out to stay within it
        self.for_response = for_response
        self.refs: dict[str, int] = {}
        self.repeats = 0
        self.nodes = 0
        self.nest = 0
        self.no_examples = False
        self.sparse = False
        self.retries = 0


class SchemaFaker:
    """Generates values for the schemas of one document."""

    def __init__(
        self,
        document: dict[str, Any],
        *,
        seed: int = 0,
        locale: str = DEFAULT_LOCALE,
        max_depth: int = 5,
        max_items: int = 3,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.document = document if isinstance(document, dict) else {}
        self.max_bytes = max(64, max_bytes)
        self.seed = seed
        self.locale = locale
        self.warmed_names = 0  # property names the last `warm_up` proposed values for
        self.max_depth = max(0, max_depth)
        self.max_items = max(0, max_items)
        self._hard = min(self.max_depth, 40) + _HARD
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(_DOC_URI, resource)
        self._refs: dict[str, Any] = {}
        self._eff: dict[Any, tuple[Any, dict[str, Any]]] = {}
        self._validators: dict[int, tuple[Any, Any]] = {}
        self._examples: dict[tuple[int, bool], tuple[Any, list[tuple[Any, int]], bool]] = {}
        self._enums: dict[int, tuple[Any, list[Any]]] = {}
        self._marked: dict[str, set[str]] | None = None
        self._ref_schemas: dict[str, dict[str, str]] = {}
        self._unchecked: set[int] = set()

    # -- public -----------------------------------------------------------------------------

    def generate(
        self,
        schema: Any,
        *,
        key: str = "",
        field_name: str | None = None,
        for_response: bool = True,
    ) -> Any:
        """A value valid against `schema`, the same for the same seed, key and schema, taking
        at most about `max_bytes` as JSON."""
        return self.generate_within(
            schema, key=key, field_name=field_name, for_response=for_response
        )[0]

    def generate_within(
        self,
        schema: Any,
        *,
        key: str = "",
        field_name: str | None = None,
        for_response: bool = True,
        max_bytes: int | None = None,
    ) -> tuple[Any, bool]:
        """A value for `schema` (as `generate`) within `max_bytes` of JSON (default: the
        faker's `max_bytes`), and whether it had to be cut to fit: arrays and strings shorter
        than the schema asks, properties left out."""
        digest = hashlib.sha256(f"{self.seed}\x00{key}".encode()).digest()
        room = self.max_bytes if max_bytes is None else max(0, max_bytes)
        # Values left minimal once the room is used up (`null`, `{}`) are not counted: a margin.
        room -= min(room // 4, _MARGIN)
        ctx = _Ctx(random.Random(int.from_bytes(digest[:8], "big")), for_response, room)
        try:
            # Retries and example checks share one bound: past it, values are not checked.
            with WorkBudget(_CALL_STEPS):
                return self._gen(schema, ctx, field_name, 0), ctx.cut
            return None, ctx.cut  # pragma: no cover - each check stops within its own budget
        except RecursionError:  # pragma: no cover - the depth guards should prevent it
            return None, ctx.cut
        except Exception:  # pragma: no cover - never let a weird schema break a response
            return None, ctx.cut

    def warm_up(self) -> threading.Thread | None:
        """Build, on a daemon thread, the value pools that the document's property names and
        formats call for, so the first response does not pay for importing Faker (None for an
        empty document). Values are the same whether a pool was built here or on first
        use: each pool has its own fixed seed. The work is bounded: it stops once every pool
        of the locale is built, and looks at no more than `WARM_NAMES` property names (a
        description with more builds the rest on first use)."""
        document, locale = self.document, self.locale
        if not document:
            return None
        self.warmed_names = 0

        def build() -> None:
            probe = random.Random(0)
            for name in _property_names(document):
                if pools_built(locale):
                    break
                self.warmed_names += 1
                if name == "\x00email":
                    format_value("email", probe, locale)
                else:
                    value_for_name(name, "string", probe, locale)

        thread = threading.Thread(target=build, name="mockloop-fake-warm-up", daemon=True)
        thread.start()
        return thread

    def is_valid(self, schema: Any, instance: Any, *, for_response: bool = True) -> bool:
        """Whether `instance` matches `schema`, forgiving required writeOnly properties missing
        from responses (readOnly ones from requests), as OpenAPI says.

        A check that needs more than `MAX_STEPS` validation steps (or more than what is left
        of the call's `_CALL_STEPS`) is stopped and the value counts as valid, logged once per
        schema: a description's example or `enum` is its own author's, and a hostile schema
        must not hold a worker thread for long.
        """
        validator = self._validator(schema)
        if validator is None:
            return True
        if isinstance(instance, (list, dict)) and deeper_than(instance, MAX_DEPTH):
            return False  # too deep to check without exhausting the stack
        budget = WorkBudget(MAX_STEPS)
        try:
            with budget:
                for error in validator.iter_errors(instance):
                    if error.validator == "required" and self._forgiven(error, for_response):
                        continue
                    return False
        except Exception:
            return True
        if budget.exceeded and id(schema) not in self._unchecked:
            if len(self._unchecked) >= _MAX_CACHED:
                self._unchecked.clear()
            self._unchecked.add(id(schema))
            logger.warning(
                "a value was not checked against schema %s while generating data: the check "
                "needed more than its budget of validation steps; it is treated as valid",
                schema_name(schema),
            )
        return True

    # -- validation helpers -----------------------------------------------------------------

    def _validator(self, schema: Any) -> Any:
        entry = self._validators.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        try:
            validator = _Validator(
                schema,
                registry=self._registry,
                format_checker=FORMAT_CHECKER,
                _resolver=self._registry.resolver(base_uri=_DOC_URI),  # pyright: ignore[reportCallIssue]
            )
        except Exception:
            validator = None
        if len(self._validators) >= _MAX_CACHED:
            self._validators.clear()
        self._validators[id(schema)] = (schema, validator)
        return validator

    def _forgiven(self, error: Any, for_response: bool) -> bool:
        found = _MISSING.match(error.message)
        if not found:
            return False
        name = found.group(1)
        flag = "writeOnly" if for_response else "readOnly"
        holder = error.schema if isinstance(error.schema, dict) else {}
        sub = self._effective(holder).get("properties", {}).get(name)
        if sub is not None:
            return self._hidden(sub, flag)
        if self._marked is None:
            read_only, write_only = marked_properties(self.document)
            self._marked = {"readOnly": read_only, "writeOnly": write_only}
        return name in self._marked[flag]

    # -- effective schemas ------------------------------------------------------------------

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

    def _effective(self, schema: Any, key: Any = None, parts: Any = None) -> dict[str, Any]:
        """`schema` with `$ref`s resolved and `allOf` merged (cached; `parts` to compose)."""
        cache_key = id(schema) if key is None else key
        hit = self._eff.get(cache_key)
        if hit is not None and hit[0] is schema:
            return hit[1]
        refs: list[str] = []
        flat: list[dict[str, Any]] = []
        seen: set[int] = set()
        for part in parts if parts is not None else [schema]:
            self._flatten(part, flat, refs, seen, 0)
        merged: dict[str, Any] = {}
        examples: list[Any] = []
        for part in flat:
            if parts is None:
                if isinstance(part.get("examples"), list):
                    examples.extend(part["examples"])
                if "example" in part:
                    examples.append(part["example"])
            _merge_into(merged, part)
        merged["\x00impossible"] = _impossible(merged)
        merged["\x00refs"] = tuple(dict.fromkeys(refs))
        merged["\x00examples"] = [e for e in examples if e is not None]
        if len(self._eff) >= _MAX_CACHED:
            self._eff.clear()
        self._eff[cache_key] = (schema, merged)
        return merged

    def _flatten(
        self, node: Any, out: list[dict[str, Any]], refs: list[str], seen: set[int], depth: int
    ) -> None:
        if node is False:
            out.append({"not": {}})
            return
        if not isinstance(node, dict) or id(node) in seen or depth > 60:
            return
        seen.add(id(node))
        own = {k: v for k, v in node.items() if k not in ("$ref", "allOf", "\x00refs")}
        if own:
            out.append(_normalise(own))
        ref = node.get("$ref")
        if isinstance(ref, str):
            refs.append(ref)
            self._flatten(self._resolve(ref), out, refs, seen, depth + 1)
        branches = node.get("allOf")
        if isinstance(branches, list):
            for branch in branches:
                self._flatten(branch, out, refs, seen, depth + 1)

    def _hidden(self, schema: Any, flag: str) -> bool:
        return isinstance(schema, dict) and self._effective(schema).get(flag) is True

    # -- dispatch ---------------------------------------------------------------------------

    def _gen(self, schema: Any, ctx: _Ctx, name: str | None, depth: int) -> Any:
        if schema is True or schema is None:
            schema = {}
        if not isinstance(schema, dict):
            return None
        return self._from(self._effective(schema), schema, ctx, name, depth)

    def _deep(self, ctx: _Ctx, depth: int) -> bool:
        return depth >= self.max_depth or ctx.repeats > 0 or ctx.nodes > _BUDGET

    def _from(self, eff: dict[str, Any], original: Any, ctx: _Ctx, name: Any, depth: int) -> Any:
        ctx.nodes += 1
        if ctx.room <= 0:
            ctx.cut = True
            return _minimal(eff, 0)
        if depth > self._hard or ctx.nest > 150 or ctx.nodes > _BUDGET * 3:
            value = _minimal(eff, ctx.room)
            self._charge(ctx, value)
            return value
        refs = eff["\x00refs"]
        for ref in refs:
            count = ctx.refs.get(ref, 0) + 1
            ctx.refs[ref] = count
            if count == 2:
                ctx.repeats += 1
        ctx.nest += 1
        try:
            if original is not None and not ctx.no_examples:
                example = self._example(original, eff, ctx)
                if example is not _NONE:
                    return example
            room = ctx.room
            value = self._construct(eff, ctx, name, depth)
            discriminator = eff.get("discriminator")
            if isinstance(discriminator, dict) and isinstance(value, dict) and refs:
                # A base schema's discriminator names the subtype being generated.
                self._discriminate(value, self._ref_schema(refs[0]), discriminator, ctx)
            if any(k in eff for k in _CHECKED):
                target = original if original is not None else eff
                for _ in range(40 if value is None or isinstance(value, (str, int, float)) else 8):
                    if ctx.retries > _RETRIES or self.is_valid(
                        target, value, for_response=ctx.for_response
                    ):
                        break
                    ctx.retries += 1
                    ctx.room = room  # the discarded value takes no room
                    value = self._construct(eff, ctx, name, depth)
            return value
        finally:
            ctx.nest -= 1
            for ref in refs:
                count = ctx.refs[ref] - 1
                ctx.refs[ref] = count
                if count == 1:
                    ctx.repeats -= 1

    def _construct(self, eff: dict[str, Any], ctx: _Ctx, name: Any, depth: int) -> Any:
        for keyword in ("oneOf", "anyOf"):
            if "const" not in eff and isinstance(eff.get(keyword), list) and eff[keyword]:
                return self._choice(eff, keyword, ctx, name, depth)
        value = self._leaf(eff, ctx, name, depth)
        if not isinstance(value, (dict, list)) or "const" in eff or "enum" in eff:
            self._charge(ctx, value)  # objects and arrays charge their parts as they grow
        return value

    def _leaf(self, eff: dict[str, Any], ctx: _Ctx, name: Any, depth: int) -> Any:
        if "const" in eff:
            return self._fitting(eff["const"], eff, ctx)
        if isinstance(eff.get("enum"), list) and eff["enum"]:
            return self._fitting(self._enum(eff, ctx), eff, ctx)
        kind = self._kind(eff, ctx, depth)
        if kind == "object":
            return self._object(eff, ctx, depth)
        if kind == "array":
            return self._array(eff, ctx, name, depth)
        if kind == "integer":
            return number_value(eff, ctx.rng, name, integer=True)
        if kind == "number":
            return number_value(eff, ctx.rng, name, integer=False)
        if kind == "boolean":
            return ctx.rng.random() < 0.5
        if kind == "string":
            low = as_count(eff.get("minLength"), 0) or 0
            if low > ctx.room - 2:
                # A string as long as asked would not fit: half the room, the rest for the
                # values after it.
                ctx.cut = True
                half = max(0, ctx.room // 2)
                eff = {**eff, "minLength": half, "maxLength": half}
            text = string_value(eff, ctx.rng, name, self.locale)
            if len(text) + 2 > ctx.room:
                ctx.cut = True
                text = text[: max(0, ctx.room - 2)]
            return text
        return None

    def _fitting(self, value: Any, eff: dict[str, Any], ctx: _Ctx) -> Any:
        """A copy of a description's `const` or enum member when it fits the room left,
        else the smallest value of the schema's type (and the value counts as cut)."""
        if isinstance(value, (dict, list)) and json_size(value, ctx.room) > ctx.room:
            ctx.cut = True
            return _minimal({k: v for k, v in eff.items() if k not in ("const", "enum")}, 0)
        return copy.deepcopy(value)

    def _charge(self, ctx: _Ctx, value: Any) -> None:
        """Take the JSON size of a finished value off the room left."""
        if isinstance(value, str):
            ctx.room -= len(value) + 2
        elif isinstance(value, (dict, list)):
            ctx.room -= json_size(value, max(0, ctx.room))
        else:
            ctx.room -= 5

    def _kind(self, eff: dict[str, Any], ctx: _Ctx, depth: int) -> str:
        raw = eff.get("type")
        types = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        types = [t for t in types if isinstance(t, str)]
        nullable = "null" in types or eff.get("\x00nullable") is True
        options = [t for t in types if t != "null"]
        if not options:
            if types:
                return "null"
            options = [_infer(eff)]
            banned = eff.get("not") if isinstance(eff.get("not"), dict) else None
            if banned is not None and not any(k in eff for k in (*_STRING_KEYS, "format")):
                kinds = ["string", "integer", "boolean", "object", "array"]
                options = [ctx.rng.choice([k for k in kinds if not _type_matches_kind(banned, k)])]
        containers = any(t in ("object", "array") for t in options) or eff["\x00refs"]
        if nullable and containers and self._deep(ctx, depth):
            return "null"
        if len(options) > 1:
            if "integer" in options and "number" in options:
                options.remove("number")
            if len(options) > 1:
                return ctx.rng.choice(options)
        return options[0]

    # -- examples, enums, combinators -------------------------------------------------------

    def _example(self, original: dict[str, Any], eff: dict[str, Any], ctx: _Ctx) -> Any:
        """A valid example of `original`, or `_NONE`. Empty lists and objects, and objects
        showing a property hidden in this direction, do not count: generated data is better."""
        candidates = eff["\x00examples"]
        if not candidates:
            return _NONE
        key = (id(original), ctx.for_response)
        hit = self._examples.get(key)
        if hit is None or hit[0] is not original:
            props = _dict(eff.get("properties"))
            flag = "writeOnly" if ctx.for_response else "readOnly"
            hidden = [p for p, sub in props.items() if self._hidden(sub, flag)]
            sized = [(c, json_size(c, self.max_bytes)) for c in candidates]
            valid = [
                (c, size)
                for c, size in sized
                if c not in ([], {})
                and size <= self.max_bytes  # larger ones are never served: not checked
                and not (isinstance(c, dict) and any(p in c for p in hidden))
                and self.is_valid(original, c, for_response=ctx.for_response)
            ]
            if len(self._examples) >= _MAX_CACHED:
                self._examples.clear()
            oversized = any(size > self.max_bytes for _, size in sized)
            hit = self._examples[key] = (original, valid, oversized)
        fitting = [(c, size) for c, size in hit[1] if size <= ctx.room]
        if len(fitting) < len(hit[1]) or (not fitting and hit[2]):
            ctx.cut = True  # generated data instead of an example too large for the room left
        if not fitting:
            return _NONE
        chosen, size = fitting[0] if len(fitting) == 1 else ctx.rng.choice(fitting)
        ctx.room -= size
        return copy.deepcopy(chosen)

    def _enum(self, eff: dict[str, Any], ctx: _Ctx) -> Any:
        return copy.deepcopy(ctx.rng.choice(self._enum_pool(eff)))

    def _enum_pool(self, eff: dict[str, Any]) -> list[Any]:
        """The members to draw from: valid ones, non-null ones first."""
        hit = self._enums.get(id(eff))
        if hit is None or hit[0] is not eff:
            members = eff["enum"]
            valid = [m for m in members if self.is_valid(eff, m)]
            kinds = eff.get("type")
            kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
            typed = [m for m in members if not kinds or _type_matches(m, kinds)]
            pool = valid or typed or list(members)
            pool = [m for m in pool if m is not None] or pool
            hit = self._enums[id(eff)] = (eff, pool)
        return hit[1]

    def _choice(self, eff: dict[str, Any], keyword: str, ctx: _Ctx, name: Any, depth: int) -> Any:
        branches = eff[keyword]
        rest = {
            k: v
            for k, v in eff.items()
            if k not in (keyword, "discriminator", "\x00refs", "\x00examples")
        }
        indexed = [(i, b) for i, b in enumerate(branches)]
        nulls = [(i, b) for i, b in indexed if _is_null_schema(self, b)]
        order = [(i, b) for i, b in indexed if (i, b) not in nulls] or indexed
        deep = self._deep(ctx, depth)
        if nulls and deep:
            return None
        ctx.rng.shuffle(order)
        # Branches that contradict themselves go last, and when deep, those that recurse.
        order.sort(key=lambda ib: (self._doomed(ib[1]), deep and self._recursive(ib[1], ctx)))
        discriminator = eff.get("discriminator")
        discriminator = discriminator if isinstance(discriminator, dict) else None
        fallback: Any = _NONE
        fallback_room = room = ctx.room
        order = order[:8]
        for attempt in range(12 if keyword == "oneOf" else min(12, 2 * len(order))):
            if attempt and ctx.retries > _RETRIES:
                break
            ctx.retries += attempt > 0
            index, branch = order[attempt % len(order)]
            # Later rounds leave optional properties out: overlapping branches often differ
            # only in what they require.
            saved = ctx.sparse
            ctx.sparse = saved or attempt >= len(order)
            ctx.room = room  # a discarded attempt takes no room
            try:
                if rest:
                    sub = self._effective(eff, (id(eff), keyword, index), [rest, branch])
                    value = self._from(sub, None, ctx, name, depth)
                else:
                    value = self._gen(branch, ctx, name, depth)
            finally:
                ctx.sparse = saved
            if discriminator and isinstance(value, dict):
                self._discriminate(value, branch, discriminator, ctx)
            if fallback is _NONE:
                fallback, fallback_room = value, ctx.room
            if keyword == "anyOf":
                # With one candidate there is no other to try; otherwise make sure the branch
                # was satisfiable before settling for it.
                if len(order) == 1 or self.is_valid(branch, value, for_response=ctx.for_response):
                    return value
                continue
            matches = 0
            for other in branches:
                matches += self.is_valid(other, value, for_response=ctx.for_response)
                if matches > 1:
                    break
            if matches == 1:
                return value
            if isinstance(value, dict):
                # Overlapping branches accept what any of them makes: edit the value apart.
                made = exclusive_object(
                    value,
                    branch,
                    [other for j, other in enumerate(branches) if j != index],
                    accepts=lambda schema, v: self.is_valid(
                        schema, v, for_response=ctx.for_response
                    ),
                    effective=self._effective,
                    room=max(0, ctx.room),
                    keep=rest or None,
                )
                if made is not None:
                    ctx.room -= made[1]
                    return made[0]
        ctx.room = fallback_room
        return None if fallback is _NONE else fallback

    def _ref_schema(self, ref: str) -> dict[str, str]:
        schema = self._ref_schemas.get(ref)
        if schema is None:
            schema = self._ref_schemas[ref] = {"$ref": ref}
        return schema

    def _doomed(self, branch: Any) -> bool:
        return branch is False or (
            isinstance(branch, dict) and self._effective(branch)["\x00impossible"]
        )

    def _recursive(self, branch: Any, ctx: _Ctx) -> bool:
        if not isinstance(branch, dict):
            return False
        return any(ctx.refs.get(r, 0) > 0 for r in self._effective(branch)["\x00refs"])

    def _discriminate(
        self, value: dict[str, Any], branch: Any, discriminator: dict[str, Any], ctx: _Ctx
    ) -> None:
        prop = discriminator.get("propertyName")
        ref = branch.get("$ref") if isinstance(branch, dict) else None
        if not isinstance(prop, str) or not isinstance(ref, str):
            return
        mapping = discriminator.get("mapping")
        mapping = mapping if isinstance(mapping, dict) else {}
        label = next(
            (k for k, v in mapping.items() if isinstance(v, str) and (v == ref or v.endswith(ref))),
            None,
        )
        if label is None:
            label = unquote(ref.rsplit("/", 1)[-1])
        if value.get(prop) == label:
            return
        previous = value.get(prop, _NONE)
        value[prop] = label
        if not self.is_valid(branch, value, for_response=ctx.for_response):
            if previous is _NONE:
                del value[prop]
            else:
                value[prop] = previous

    # -- containers -------------------------------------------------------------------------

    def _object(self, eff: dict[str, Any], ctx: _Ctx, depth: int) -> dict[str, Any]:
        rng = ctx.rng
        props = _dict(eff.get("properties"))
        required = [r for r in eff.get("required") or [] if isinstance(r, str)]
        deep = self._deep(ctx, depth) or ctx.sparse
        wanted = list(dict.fromkeys(required + ([] if deep else list(props))))
        dependent = eff.get("dependentRequired")
        if isinstance(dependent, dict):
            for trigger, needed in dependent.items():
                if trigger in wanted and isinstance(needed, list):
                    wanted.extend(n for n in needed if isinstance(n, str) and n not in wanted)
        flag = "writeOnly" if ctx.for_response else "readOnly"
        patterns = eff.get("patternProperties")
        patterns = patterns if isinstance(patterns, dict) else {}
        extra = eff.get("additionalProperties")
        closed = extra is False or eff.get("unevaluatedProperties") is False
        limit = as_count(eff.get("maxProperties"), None)
        result: dict[str, Any] = {}
        ctx.room -= 2

        def add(prop: str, optional: bool) -> None:
            if optional and limit is not None and len(result) >= limit:
                return
            if ctx.room <= len(prop) + _KEY_COST:
                ctx.cut = True
                return
            if optional and not self._allowed(eff, prop):
                return
            sub = props.get(prop)
            if sub is None:
                sub = next((s for p, s in patterns.items() if search(p, prop)), None)
            if sub is None:
                sub = extra if isinstance(extra, dict) else {}
            if sub is False or self._hidden(sub, flag):
                return
            if optional and isinstance(sub, dict) and self._effective(sub)["\x00impossible"]:
                return
            hint = {"state": "region" if address else prop, "name": naming}.get(prop.lower(), prop)
            ctx.room -= len(prop) + _KEY_COST
            result[prop] = self._gen(sub, ctx, hint, depth + 1)

        # Context for two ambiguous names: an address's state, a non-person's name.
        address = any(p.lower() in ("city", "zip", "zipcode", "postalcode") for p in props)
        kind = eff["\x00refs"][0].rsplit("/", 1)[-1].lower() if eff["\x00refs"] else "person"
        naming = "name" if any(w in kind for w in _PEOPLE) else "thing_name"
        for prop in wanted:
            add(prop, prop not in required)
        minimum = as_count(eff.get("minProperties"), 0) or 0
        if not deep and not props and (isinstance(extra, dict) or patterns):
            minimum = max(minimum, rng.randint(1, max(1, self.max_items)))
        if limit is not None:
            minimum = min(minimum, limit)
        spare = [p for p in props if p not in result]
        names = eff.get("propertyNames")
        for index in range(1, 30):
            if len(result) >= minimum:
                break
            if ctx.room <= 0:
                ctx.cut = True
                break
            if spare:
                add(spare.pop(0), True)
                continue
            if patterns and (closed or index % 2):
                pattern, sub = list(patterns.items())[index % len(patterns)]
                key = pattern_string(pattern, rng, 1, 40)
                if key is None or key in result:
                    continue
                if sub is not False:
                    ctx.room -= len(key) + _KEY_COST
                    result[key] = self._gen(sub, ctx, key, depth + 1)
                continue
            if closed:
                break
            key = self._gen(names, ctx, None, depth + 1) if isinstance(names, dict) else None
            if not isinstance(key, str):
                key = rng.choice(WORDS) + ("" if index == 1 else str(index))
            if key in result or any(search(p, key) for p in patterns):
                continue
            ctx.room -= len(key) + _KEY_COST
            result[key] = self._gen(extra if isinstance(extra, dict) else {}, ctx, key, depth + 1)
        return result

    def _allowed(self, eff: dict[str, Any], prop: str) -> bool:
        for names, patterns in eff.get("\x00closed", ()):
            if prop not in names and not any(search(p, prop) for p in patterns):
                return False
        return True

    def _array(self, eff: dict[str, Any], ctx: _Ctx, name: Any, depth: int) -> list[Any]:
        rng = ctx.rng
        low = as_count(eff.get("minItems"), 0) or 0
        high = as_count(eff.get("maxItems"), None)
        if high is None or high < low:
            high = max(low, self.max_items)
        prefix = _list(eff.get("prefixItems"))
        items = eff.get("items", {})
        if self._doomed(items):  # no item can be valid: as few as allowed
            items = False
        if items is False:
            high = min(high, max(low, len(prefix)))
        cap = max(low, min(high, self.max_items))
        count = low if self._deep(ctx, depth) else rng.randint(min(max(low, 1), cap), cap)
        singular = _singular(name)
        unique = eff.get("uniqueItems") is True
        result: list[Any] = []
        seen: set[bytes] = set()
        ctx.room -= 2
        contains = eff.get("contains")
        if isinstance(contains, dict) and high > 0 and not prefix:
            sub = self._effective(eff, (id(eff), "contains"), [contains, items])
            value = self._from(sub, None, ctx, singular, depth + 1)
            result.append(value)
            seen.add(_marker(value))
            count = max(count, 1)
        sub_eff = self._effective(items) if isinstance(items, dict) else {}
        if unique and not prefix and not result and _list(sub_eff.get("enum")):
            pool = self._enum_pool(sub_eff)  # draw without replacement
            picked = rng.sample(range(len(pool)), min(count, len(pool)))
            return [copy.deepcopy(pool[i]) for i in picked]
        attempts = 0
        while len(result) < count and attempts < count * 6 + 6:
            attempts += 1
            position = len(result)
            sub = prefix[position] if position < len(prefix) else items
            if sub is False:
                break
            if ctx.room <= 1:
                ctx.cut = True
                break
            if ctx.nodes > _BUDGET * 3 and position >= len(prefix) and not unique:
                # Past the node budget every item is the minimal one: add them in one go.
                self._fill(result, count, _minimal(sub_eff, ctx.room), ctx)
                break
            room = ctx.room
            retry = unique and attempts > len(result) + 1
            if retry:
                ctx.no_examples, saved = True, ctx.no_examples
            try:
                value = self._gen(sub, ctx, singular, depth + 1)
            finally:
                if retry:
                    ctx.no_examples = saved
            if unique:
                marker = _marker(value)
                if marker in seen:
                    ctx.room = room  # a discarded duplicate takes no room
                    continue
                seen.add(marker)
            ctx.room -= 1
            result.append(value)
        return result

    def _fill(self, result: list[Any], count: int, item: Any, ctx: _Ctx) -> None:
        """Append copies of `item` until `result` holds `count`, or the room is used up."""
        each = json_size(item, ctx.room) + 1
        fits = min(count - len(result), max(0, ctx.room) // each)
        if isinstance(item, (dict, list)):
            result.extend(copy.deepcopy(item) for _ in range(fits))
        else:
            result.extend([item] * fits)
        ctx.room -= fits * each
        if len(result) < count:
            ctx.cut = True


# -- helpers ----------------------------------------------------------------------------------


def _normalise(part: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 leftovers in one schema object, in 2020-12 terms."""
    if part.get("nullable") is True:
        kind = part.get("type")
        if isinstance(kind, str):
            part["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            part["type"] = [*kind, "null"]
        elif kind is None:
            part["\x00nullable"] = True
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(part.get(exclusive), bool):
            flag = part.pop(exclusive)
            if flag and as_number(part.get(bound)) is not None:
                part[exclusive] = part.pop(bound)
    if part.get("additionalProperties") is False and "\x00closed" not in part:
        names = _dict(part.get("properties"))
        patterns = part.get("patternProperties")
        patterns = list(patterns) if isinstance(patterns, dict) else []
        part["\x00closed"] = [(set(names), patterns)]
    return part


def _merge_into(target: dict[str, Any], branch: dict[str, Any]) -> None:
    for key, value in branch.items():
        if key not in target:
            if key in ("example", "examples", "\x00closed"):
                target[key] = list(value) if key == "\x00closed" else value
            else:
                target[key] = value
            continue
        current: Any = target[key]
        if key == "properties" and isinstance(value, dict) and isinstance(current, dict):
            merged = dict(current)
            for prop, sub in value.items():
                if prop in merged and merged[prop] is not sub and merged[prop] != sub:
                    merged[prop] = {"allOf": [merged[prop], sub]}
                else:
                    merged[prop] = sub
            target[key] = merged
        elif key == "required" and isinstance(value, list) and isinstance(current, list):
            target[key] = list(dict.fromkeys([*current, *value]))
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            if as_number(value) is not None and as_number(current) is not None:
                target[key] = max(current, value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            if as_number(value) is not None and as_number(current) is not None:
                target[key] = min(current, value)
        elif key == "type":
            mine = current if isinstance(current, list) else [current]
            theirs = value if isinstance(value, list) else [value]
            common = [t for t in mine if t in theirs]
            if ("integer" in mine and "number" in theirs) or (
                "number" in mine and "integer" in theirs
            ):
                common.append("integer")
            common = list(dict.fromkeys(common))
            if not common:
                target["\x00conflict"] = True
            common = common or mine
            target[key] = common if len(common) > 1 else common[0]
        elif key == "enum" and isinstance(value, list) and isinstance(current, list):
            common = [m for m in current if m in value]
            if not common:
                target["\x00conflict"] = True
            target[key] = common or current
        elif key == "pattern" and value != current:
            target["\x00patterns"] = [*target.get("\x00patterns", []), value]
        elif key in ("items", "additionalProperties", "propertyNames", "contains", "not"):
            if isinstance(value, dict) and isinstance(current, dict) and value != current:
                target[key] = {"allOf": [current, value]}
            elif value is False:
                target[key] = False
        elif key == "\x00closed":
            target[key] = [*current, *value]
        elif key in ("oneOf", "anyOf"):
            target["allOf"] = [*target.get("allOf", []), {key: value}]
        elif key in ("readOnly", "writeOnly", "uniqueItems", "\x00nullable") and value is True:
            target[key] = True
        elif key == "multipleOf" and _positive_ints(value, current):
            target[key] = math.lcm(current, cast(int, value))
        # anything else: the first branch wins


def _impossible(eff: dict[str, Any]) -> bool:
    """Whether `eff` plainly contradicts itself (no value can match), so that an optional
    property or a branch with it is better left out."""
    if eff.get("\x00conflict") or eff.get("not") == {} or eff.get("enum") == []:
        return True
    for low, high in (("minItems", "maxItems"), ("minLength", "maxLength")):
        if as_count(eff.get(low), 0) > as_count(eff.get(high), math.inf):
            return True
    limit = as_count(eff.get("maxProperties"), math.inf)
    required = _list(eff.get("required"))
    if max(as_count(eff.get("minProperties"), 0), len(set(map(str, required)))) > limit:
        return True
    if "const" in eff and isinstance(eff.get("enum"), list) and eff["const"] not in eff["enum"]:
        return True
    kind = eff.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kinds and all(k in ("integer", "number") for k in kinds):
        lo, lo_ex, hi, hi_ex = bounds(eff)
        if lo is not None and hi is not None:
            if "number" not in kinds:
                return math.ceil(lo + lo_ex * 0.5) > math.floor(hi - hi_ex * 0.5)
            return lo > hi or (lo == hi and (lo_ex or hi_ex))
    return False


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _positive_ints(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


def _infer(eff: dict[str, Any]) -> str:
    if any(k in eff for k in _OBJECT_KEYS):
        return "object"
    if any(k in eff for k in _ARRAY_KEYS):
        return "array"
    fmt = eff.get("format")
    if fmt in ("int32", "int64", "uint32", "uint64"):
        return "integer"
    if fmt in ("float", "double") or any(k in eff for k in _NUMERIC):
        return "number"
    return "string"


def _is_null_schema(faker: SchemaFaker, branch: Any) -> bool:
    if not isinstance(branch, dict):
        return False
    eff = faker._effective(branch)
    kind = eff.get("type")
    return kind == "null" or kind == ["null"] or eff.get("enum") == [None]


def _type_matches_kind(schema: dict[str, Any], kind: str) -> bool:
    """Whether `schema` names `kind` as a type it allows."""
    raw = schema.get("type")
    kinds = raw if isinstance(raw, list) else [raw]
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _type_matches(value: Any, kinds: list[Any]) -> bool:
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return "integer" in kinds or "number" in kinds
    if isinstance(value, float):
        return "number" in kinds or ("integer" in kinds and value.is_integer())
    if isinstance(value, str):
        return "string" in kinds
    if isinstance(value, list):
        return "array" in kinds
    return "object" in kinds


def _minimal(eff: dict[str, Any], room: int) -> Any:
    """The smallest value of `eff`'s type (strings at most `room` long)."""
    if "const" in eff and json_size(eff["const"], room) <= room:
        return copy.deepcopy(eff["const"])
    kind = eff.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" in kinds or eff.get("\x00nullable"):
        return None
    members = eff.get("enum")
    if isinstance(members, list) and members and json_size(members[0], room) <= room:
        return copy.deepcopy(members[0])
    kind = next((k for k in kinds if isinstance(k, str)), None) or _infer(eff)
    if kind == "string":
        return "x" * min(as_count(eff.get("minLength"), 0) or 0, max(0, room - 2))
    if kind in ("integer", "number"):
        lo = as_number(eff.get("minimum"))
        return lo if lo is not None else 0
    return {"object": {}, "array": [], "boolean": False}.get(kind)


def _singular(name: Any) -> Any:
    if not isinstance(name, str) or len(name) < 3:
        return name
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _marker(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(value).encode()


def _property_names(document: Any, limit: int | None = None) -> Iterator[str]:
    """The distinct property names of the schemas in `document` (and `"\\x00email"` when a
    string has the email format), walked without recursion; at most `limit` names are looked
    at (`WARM_NAMES` by default, repeats included) and `_WARM_NODES` nodes visited."""
    budget = WARM_NAMES if limit is None else limit
    names: set[str] = set()
    stack = [document]
    nodes = 0
    while stack and nodes < _WARM_NODES and budget > 0:
        node = stack.pop()
        nodes += 1
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                for key in properties:
                    if budget <= 0:
                        return
                    budget -= 1
                    name = str(key)
                    if name not in names:
                        names.add(name)
                        yield name
            if node.get("format") in ("email", "idn-email") and "\x00email" not in names:
                names.add("\x00email")
                yield "\x00email"
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
