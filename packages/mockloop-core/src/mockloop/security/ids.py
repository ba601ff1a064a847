"""Ids of objects that exist on the target, for the probes that need one (an object read
asked without a token, as another principal, or read for its properties).

A generated id is almost always answered 404 by a real API, which hides every flaw of an
object read. So for each path parameter the candidates are, in order:

- `auth`: the id the principal declared it owns (`auth.users[].ids`);
- `example`: the description's documented examples (the parameter's, its schema's, and the
  response examples of the sibling collection's list and create operations);
- `list`: ids in the answer of the sibling collection (`GET /things` for `GET /things/{id}`):
  the items' `id`, `<name>Id`/`<name>_id` or the parameter's own name;
- `created`: the id of an object the scan created (`POST /things`, only with allow_writes);
- `small_integer`: 1, 2, 3 (none for UUID-typed ids).

The first candidate the legitimate (credentialed) request answers 2xx is the object read's id;
`ObjectRead.id_source` says where it came from. Every read is memoised per operation and
principal, and every successful one is kept for the exposure probes.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mockloop.security.identities import Identity
from mockloop.security.runner import Exchange
from mockloop.security.scan import ScanContext
from mockloop.security.target import BuiltRequest, SecurityTarget, op_label
from mockloop.spec import Operation, Parameter

__all__ = [
    "ID_SOURCES",
    "IdSource",
    "ObjectRead",
    "collection_operations",
    "documented_ids",
    "ids_in",
    "object_read",
    "owned_read",
    "path_parameters",
    "successful_reads",
]

IdSource = Literal["auth", "example", "list", "created", "small_integer"]
ID_SOURCES: tuple[IdSource, ...] = ("auth", "example", "list", "created", "small_integer")

_SMALL_INTEGERS = ("1", "2", "3")
#: Legitimate requests one object read may spend looking for an id that exists.
_MAX_TRIES = 8
#: Requests left in the budget below which harvesting stops (the probes need some too).
_RESERVE = 5
_COLLECTION_KEYS = ("data", "items", "results", "records", "content", "objects")
_READS = "ids:reads"


@dataclass(slots=True)
class ObjectRead:
    """An object read answered 2xx: the values used, where each came from, the exchange."""

    op: Operation
    identity: Identity | None
    values: dict[str, str]
    sources: dict[str, IdSource]
    built: BuiltRequest
    exchange: Exchange
    tried: int = 0
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = op_label(self.op)

    @property
    def id_source(self) -> str:
        """Where the id came from (`list`, ...; several joined by `+` for nested paths)."""
        seen = dict.fromkeys(self.sources.values())
        return "+".join(seen) or "none"


def path_parameters(op: Operation) -> list[Parameter]:
    """The operation's path parameters, in path order."""
    return [p for p in op.parameters if p.location == "path"]


def collection_operations(
    target: SecurityTarget, op: Operation
) -> tuple[Operation | None, Operation | None]:
    """(list, create) operations of the collection `op` reads an item of: for
    `/things/{id}`, `GET /things` and `POST /things`."""
    cut = op.path.rfind("/{")
    if cut <= 0:
        return None, None
    collection = op.path[:cut]
    listing = create = None
    for other in target.operations:
        if other.path.rstrip("/") != collection:
            continue
        if other.method.upper() == "GET":
            listing = other
        elif other.method.upper() == "POST":
            create = other
    return listing, create


def _singular(op: Operation) -> str:
    """The resource name before the id segment: `/users/{id}` -> `user`."""
    parts = [s for s in op.path[: op.path.rfind("/{")].split("/") if s and "{" not in s]
    name = parts[-1].lower() if parts else ""
    return name[:-1] if name.endswith("s") else name


def _id_keys(op: Operation, param: Parameter) -> set[str]:
    name = _singular(op)
    keys = {param.name.lower(), "id", "uuid"}
    if name:
        keys |= {f"{name}id", f"{name}_id", f"{name}uuid"}
    return keys


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value).strip() and len(str(value)) <= 200:
        return str(value)
    return None


def ids_in(body: Any, keys: set[str], depth: int = 0) -> list[str]:
    """Id values under any of `keys` (lower-case) in a JSON body: a list of objects, an
    object, or an envelope (`data`, `items`, `results` ...) holding either."""
    if depth > 3:
        return []
    out: list[str] = []
    if isinstance(body, list):
        for item in body[:20]:
            out.extend(ids_in(item, keys, depth + 1))
    elif isinstance(body, dict):
        for key, value in body.items():
            if key.lower() in keys and (text := _scalar(value)) is not None:
                out.append(text)
        for key in _COLLECTION_KEYS:
            if isinstance(body.get(key), list | dict):
                out.extend(ids_in(body[key], keys, depth + 1))
    return list(dict.fromkeys(out))


def _schema_examples(target: SecurityTarget, schema: Any) -> list[Any]:
    node = target.deref(schema)
    values = [node["example"]] if "example" in node else []
    if isinstance(node.get("examples"), list):
        values.extend(node["examples"])
    return values


def documented_ids(target: SecurityTarget, op: Operation, param: Parameter) -> list[str]:
    """The ids the description documents for a path parameter: its examples, its schema's,
    and the ids in the response examples of the sibling list and create operations."""
    values: list[Any] = [e.value for e in param.examples]
    values.extend(_schema_examples(target, param.schema))
    out = [t for v in values if (t := _scalar(v)) is not None]
    keys = _id_keys(op, param)
    for sibling in collection_operations(target, op):
        if sibling is None:
            continue
        for status, response in sibling.responses.items():
            if not status.startswith("2"):
                continue
            for media in response.content.values():
                bodies = [e.value for e in media.examples]
                if media.schema is not None:
                    bodies.extend(_schema_examples(target, media.schema))
                for body in bodies:
                    out.extend(ids_in(body, keys))
    return list(dict.fromkeys(out))


def _uuid_typed(target: SecurityTarget, param: Parameter) -> bool:
    schema = target.deref(param.schema)
    return schema.get("format") == "uuid" or "uuid" in param.name.lower()


async def _legit(
    ctx: ScanContext, op: Operation, identity: Identity | None, key: str
) -> Exchange | None:
    """The legitimate answer of a parameter-free collection operation, shared with the
    probes' baselines when one was already sent (None: not enough budget left)."""
    shared = ctx.memo.get(f"baseline:{op.operation_id}:{identity.name if identity else '-'}")
    if shared is not None:
        return shared.exchange
    memo_key = f"ids:{key}:{op.operation_id}:{identity.name if identity else '-'}"
    if memo_key not in ctx.memo:
        if ctx.http.remaining <= _RESERVE:
            return None
        ctx.memo[memo_key] = await ctx.target.send(ctx.target.build(op, identity))
    return ctx.memo[memo_key]


async def _candidates(
    ctx: ScanContext, op: Operation, param: Parameter, identity: Identity | None
) -> AsyncIterator[tuple[str, IdSource]]:
    """Candidate ids for one path parameter, source by source (a source that costs a request
    is only asked when the ones before it are used up)."""
    target = ctx.target
    if identity is not None and param.name in identity.ids:
        yield identity.ids[param.name], "auth"
    for value in documented_ids(target, op, param):
        yield value, "example"
    listing, create = collection_operations(target, op)
    keys = _id_keys(op, param)
    if listing is not None and not path_parameters(listing):
        answer = await _legit(ctx, listing, identity, "list")
        if answer is not None and answer.ok:
            for value in ids_in(answer.json(), keys):
                yield value, "list"
    if create is not None and ctx.options.allow_writes and not path_parameters(create):
        answer = await _legit(ctx, create, identity, "created")
        if answer is not None and answer.ok:
            for value in ids_in(answer.json(), keys):
                yield value, "created"
    if not _uuid_typed(target, param):
        for value in _SMALL_INTEGERS:
            yield value, "small_integer"


async def _collect(
    ctx: ScanContext, op: Operation, param: Parameter, identity: Identity | None
) -> list[tuple[str, IdSource]]:
    out: list[tuple[str, IdSource]] = []
    async for value, source in _candidates(ctx, op, param, identity):
        if value not in {v for v, _ in out}:
            out.append((value, source))
        if len(out) >= _MAX_TRIES:
            break
    return out


async def object_read(
    ctx: ScanContext, op: Operation, identity: Identity | None
) -> ObjectRead | None:
    """The first legitimate request of `op` as `identity` that answers 2xx, its path ids
    harvested (memoised; None when no candidate id exists or the budget is nearly spent)."""
    key = f"ids:read:{op.operation_id}:{identity.name if identity else '-'}"
    if key in ctx.memo:
        return ctx.memo[key]
    params = path_parameters(op)
    per_param = [await _collect(ctx, op, p, identity) for p in params]
    combos = sorted(
        itertools.product(*(list(enumerate(c)) for c in per_param)),
        key=lambda combo: sum(index for index, _ in combo),
    )[:_MAX_TRIES]
    found: ObjectRead | None = None
    for tried, combo in enumerate(combos, 1):
        if ctx.http.remaining <= _RESERVE:
            break
        values = {p.name: value for p, (_, (value, _)) in zip(params, combo, strict=True)}
        sources: dict[str, IdSource] = {
            p.name: source for p, (_, (_, source)) in zip(params, combo, strict=True)
        }
        built = ctx.target.build(op, identity, values=values)
        answer = await ctx.target.send(built)
        if answer.ok and await ctx.target.is_real(answer):
            found = ObjectRead(op, identity, values, sources, built, answer, tried)
            ctx.memo.setdefault(_READS, []).append(found)
            break
    ctx.memo[key] = found
    return found


def successful_reads(ctx: ScanContext) -> list[ObjectRead]:
    """Every object read that answered 2xx so far in this run."""
    return list(ctx.memo.get(_READS, []))


async def owned_read(ctx: ScanContext, op: Operation, identity: Identity) -> ObjectRead | None:
    """A 2xx read of an object `identity` is known to own: the ids it declared, else the
    object it created through the sibling collection (None: no such object, or not readable).
    Memoised; used by BOLA, which needs an object that is someone's and not everyone's."""
    key = f"ids:owned:{op.operation_id}:{identity.name}"
    if key in ctx.memo:
        return ctx.memo[key]
    params = path_parameters(op)
    values: dict[str, str] = {}
    sources: dict[str, IdSource] = {}
    if all(p.name in identity.ids for p in params):
        values = {p.name: identity.ids[p.name] for p in params}
        sources = dict.fromkeys(values, "auth")
    elif len(params) == 1 and ctx.options.allow_writes:
        _, create = collection_operations(ctx.target, op)
        if create is not None and not path_parameters(create):
            answer = await _legit(ctx, create, identity, "created")
            created = ids_in(answer.json(), _id_keys(op, params[0])) if answer else []
            if answer is not None and answer.ok and created:
                values, sources = {params[0].name: created[0]}, {params[0].name: "created"}
    found: ObjectRead | None = None
    if values and ctx.http.remaining > _RESERVE:
        built = ctx.target.build(op, identity, values=values)
        answer = await ctx.target.send(built)
        if answer.ok and await ctx.target.is_real(answer):
            found = ObjectRead(op, identity, values, sources, built, answer, 1)
            ctx.memo.setdefault(_READS, []).append(found)
    ctx.memo[key] = found
    return found
