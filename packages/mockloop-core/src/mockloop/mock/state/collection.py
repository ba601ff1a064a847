"""Which parts of a description are CRUD collections, for the mock's stateful mode.

A collection is a path template `P` (a list `GET` and/or a create `POST`) with a sibling item
template `P/{param}` (`GET`, `PUT`, `PATCH` or `DELETE`). Templates are the description's own,
so the server base path the router strips never takes part. From the operations this module
derives everything the store needs: the item schema, the id field and how new ids are made,
and the shape of the list response (a bare array or an object wrapping one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

import orjson

from mockloop.mock.responder import default_status, is_json_media
from mockloop.spec.model import ApiSpec, Operation, Response

__all__ = [
    "Collection",
    "ListShape",
    "effective_schema",
    "infer_collections",
    "json_object",
    "matches_filter",
    "merge_patch",
    "page_number",
    "singular",
]

IdKind = Literal["integer", "uuid", "string"]
Action = Literal["list", "create", "read", "replace", "update", "delete"]

_PARAM = re.compile(r"^\{([^{}]+)\}$")
_ARRAY_NAMES = ("items", "data", "results", "content", "records", "entries", "values", "list")
_TOTAL_NAMES = frozenset(
    {
        "total",
        "count",
        "total_count",
        "totalCount",
        "total_items",
        "totalItems",
        "total_results",
        "totalResults",
        "total_elements",
        "totalElements",
    }
)
_LIMIT_NAMES = (
    "limit",
    "per_page",
    "perPage",
    "page_size",
    "pageSize",
    "max_results",
    "maxResults",
)
_OFFSET_NAMES = ("offset", "skip", "start")
_PAGE_NAMES = ("page",)


@dataclass(frozen=True, slots=True)
class ListShape:
    """How the list operation answers: a bare array (`array_property` None) or an object with
    the items in `array_property` and the number of matching items in `total_fields`.
    `entry_schema` is the schema of one listed entry."""

    schema: dict[str, Any] | None
    array_property: str | None = None
    total_fields: tuple[str, ...] = ()
    entry_schema: dict[str, Any] | None = None


@dataclass(slots=True)
class Collection:
    """One inferred collection and the operations the store answers for it."""

    name: str
    collection_path: str
    item_path: str
    id_param: str
    id_field: str
    id_kind: IdKind
    id_schema: dict[str, Any]
    item_schema: dict[str, Any] | None
    parent_params: tuple[str, ...]  # path parameters of P: nested items live per their values
    write_only: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    list_shape: ListShape | None = None
    # Set when listed entries are a summary of the item (other properties): their schema and
    # the item properties they show.
    entry_schema: dict[str, Any] | None = None
    entry_fields: frozenset[str] = frozenset()
    limit_param: str | None = None
    offset_param: str | None = None
    page_param: str | None = None
    filter_params: tuple[str, ...] = ()
    operations: dict[Action, Operation] = field(default_factory=dict)

    @property
    def singular(self) -> str:
        """The collection's name in the singular (`pets` -> `pet`)."""
        return singular(self.name)


def singular(name: str) -> str:
    """A naive English singular: `categories` -> `category`, `boxes` -> `box`, `pets` -> `pet`."""
    lowered = name.lower()
    if lowered.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if lowered.endswith(("sses", "xes", "ches", "shes", "zes")):
        return name[:-2]
    if lowered.endswith("s") and not lowered.endswith("ss") and len(name) > 1:
        return name[:-1]
    return name


def effective_schema(document: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """`schema` with local `$ref`s followed and `allOf` branches merged (properties, required
    and the other keywords; the schema's own keywords win)."""
    if not isinstance(schema, dict) or depth > 30:
        return {}
    merged: dict[str, Any] = {}
    branches: list[Any] = []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        branches.append(_pointer(document, ref))
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        branches.extend(all_of)
    for branch in branches:
        _merge(merged, effective_schema(document, branch, depth + 1))
    _merge(merged, {k: v for k, v in schema.items() if k not in ("$ref", "allOf")})
    return merged


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if key == "properties" and isinstance(value, dict):
            target["properties"] = {**target.get("properties", {}), **value}
        elif key == "required" and isinstance(value, list):
            target["required"] = list(dict.fromkeys([*target.get("required", []), *value]))
        else:
            target[key] = value


def _pointer(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node: Any = document
    for token in unquote(ref[1:]).split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return {}
    return node


def _type(eff: dict[str, Any]) -> str | None:
    kind = eff.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "properties" in eff:
        return "object"
    if "items" in eff:
        return "array"
    return None


def _json_schema(response: Response | None) -> dict[str, Any] | None:
    if response is None:
        return None
    for media, media_type in response.content.items():
        if is_json_media(media) and isinstance(media_type.schema, dict):
            return media_type.schema
    return None


def _success_schema(op: Operation | None) -> dict[str, Any] | None:
    if op is None:
        return None
    return _json_schema(op.responses.get(default_status(op)))


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def infer_collections(spec: ApiSpec) -> list[Collection]:
    """Every collection the description defines, in document order."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in spec.operations:
        if "#" in op.path or "?" in op.path:
            continue  # query-discriminated templates are RPC calls, not resources
        template = "/" + "/".join(_segments(op.path))
        by_path.setdefault(template, {})[op.method.upper()] = op
    found: list[Collection] = []
    for template, methods in by_path.items():
        segments = _segments(template)
        if not segments or _PARAM.match(segments[-1]) or not {"GET", "POST"} & set(methods):
            continue
        for other, item_methods in by_path.items():
            other_segments = _segments(other)
            if (
                len(other_segments) == len(segments) + 1
                and other_segments[:-1] == segments
                and _PARAM.match(other_segments[-1])
                and {"GET", "PUT", "PATCH", "DELETE"} & set(item_methods)
            ):
                collection = _collection(spec, template, other, methods, item_methods)
                if collection is not None:
                    found.append(collection)
                break
    _disambiguate(found)
    return found


def _collection(
    spec: ApiSpec,
    template: str,
    item_template: str,
    methods: dict[str, Operation],
    item_methods: dict[str, Operation],
) -> Collection | None:
    document = spec.document
    segments = _segments(template)
    literal = [s for s in segments if not _PARAM.match(s)]
    id_param = _PARAM.match(_segments(item_template)[-1]).group(1)  # type: ignore[union-attr]
    operations: dict[Action, Operation] = {}
    for action, source, method in (
        ("list", methods, "GET"),
        ("create", methods, "POST"),
        ("read", item_methods, "GET"),
        ("replace", item_methods, "PUT"),
        ("update", item_methods, "PATCH"),
        ("delete", item_methods, "DELETE"),
    ):
        if method in source:
            operations[action] = source[method]  # type: ignore[index]
    item_schema = _item_schema(document, operations)
    item_eff = effective_schema(document, item_schema) if item_schema is not None else {}
    if item_schema is not None and _type(item_eff) not in ("object", None):
        return None  # items that are not objects cannot carry an id
    properties: dict[str, Any] = item_eff.get("properties") or {}
    name = literal[-1]
    id_field = _id_field(properties, id_param, name)
    if id_field not in properties and item_eff.get("additionalProperties") is False:
        return None  # the id lives somewhere the mock cannot see (inside a wrapper, say)
    id_schema = properties.get(id_field)
    if id_schema is None:
        id_schema = next(
            (
                p.schema
                for op in operations.values()
                for p in op.parameters
                if p.location == "path" and p.name == id_param
            ),
            {"type": "string"},
        )
    id_eff = effective_schema(document, id_schema)
    id_kind: IdKind = "string"
    if _type(id_eff) in ("integer", "number"):
        id_kind = "integer"
    elif id_eff.get("format") == "uuid":
        id_kind = "uuid"
    collection = Collection(
        name=name,
        collection_path=template,
        item_path=item_template,
        id_param=id_param,
        id_field=id_field,
        id_kind=id_kind,
        id_schema=id_eff,
        item_schema=item_schema,
        parent_params=tuple(m.group(1) for s in segments if (m := _PARAM.match(s))),
        write_only=_flagged(document, properties, "writeOnly"),
        read_only=_flagged(document, properties, "readOnly"),
        operations=operations,
    )
    list_op = operations.get("list")
    if list_op is not None:
        collection.list_shape = _list_shape(document, _success_schema(list_op))
        if collection.list_shape is None:
            del operations["list"]  # a GET on P that is not a list keeps the normal responder
        else:
            _paging(collection, list_op, properties)
            _entries(document, collection, properties)
    return collection


def _item_schema(
    document: dict[str, Any], operations: dict[Action, Operation]
) -> dict[str, Any] | None:
    for action in ("read", "create", "replace", "update"):
        schema = _success_schema(operations.get(action))
        if schema is not None and _type(effective_schema(document, schema)) == "object":
            return schema
    listed = _success_schema(operations.get("list"))
    if listed is not None:
        shape = _list_shape(document, listed)
        if shape is not None:
            eff = effective_schema(document, listed)
            if shape.array_property is not None:
                eff = effective_schema(document, eff["properties"][shape.array_property])
            items = eff.get("items")
            if isinstance(items, dict):
                return items
    create = operations.get("create")
    if create is not None and create.request_body is not None:
        for media, media_type in create.request_body.content.items():
            if is_json_media(media) and isinstance(media_type.schema, dict):
                return media_type.schema
    return None


def _id_field(properties: dict[str, Any], id_param: str, name: str) -> str:
    """The property the path parameter names: itself (`petId`, or `pet_id` for `PetId`), else
    `id`, `<singular>Id`/`<singular>_id`, else the parameter's last word (`sid` for
    `ConferenceSid`); `id` when none is documented."""
    if id_param in properties:
        return id_param
    by_norm = {_norm(p): p for p in properties}
    one = singular(name)
    candidates = (id_param, "id", f"{one}Id", f"{one}_id")
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", id_param)
    for candidate in (*candidates, words[-1] if words else ""):
        found = by_norm.get(_norm(candidate))
        if found is not None:
            return found
    return "id"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _flagged(document: dict[str, Any], properties: dict[str, Any], flag: str) -> frozenset[str]:
    return frozenset(
        name
        for name, schema in properties.items()
        if effective_schema(document, schema).get(flag) is True
    )


def _list_shape(document: dict[str, Any], schema: dict[str, Any] | None) -> ListShape | None:
    if schema is None:
        return None
    eff = effective_schema(document, schema)
    kind = _type(eff)
    if kind == "array":
        entry = _object_entries(document, eff)
        return None if entry is None else ListShape(schema, entry_schema=entry or None)
    if kind != "object":
        return None
    properties: dict[str, Any] = eff.get("properties") or {}
    arrays = [
        name
        for name, sub in properties.items()
        if _type(sub_eff := effective_schema(document, sub)) == "array"
        and _object_entries(document, sub_eff) is not None
    ]
    if not arrays:
        return None
    preferred = next((n for n in _ARRAY_NAMES if n in arrays), arrays[0])
    totals = tuple(
        name
        for name, sub in properties.items()
        if name in _TOTAL_NAMES and _type(effective_schema(document, sub)) in ("integer", "number")
    )
    entry = _object_entries(document, effective_schema(document, properties[preferred]))
    return ListShape(schema, preferred, totals, entry or None)


def _object_entries(document: dict[str, Any], array: dict[str, Any]) -> dict[str, Any] | None:
    """The entry schema of an array of objects, {} if undocumented, None if not objects."""
    items = array.get("items")
    if not isinstance(items, dict):
        return {}
    return items if _type(effective_schema(document, items)) in ("object", None) else None


def _entries(document: dict[str, Any], collection: Collection, properties: dict[str, Any]) -> None:
    shape = collection.list_shape
    if shape is None or shape.entry_schema is None or collection.item_schema is None:
        return
    listed = effective_schema(document, shape.entry_schema).get("properties") or {}
    if listed and set(listed) != set(properties):
        collection.entry_schema = shape.entry_schema
        collection.entry_fields = frozenset(listed)


def _paging(collection: Collection, list_op: Operation, properties: dict[str, Any]) -> None:
    query = [p.name for p in list_op.parameters if p.location == "query"]
    collection.limit_param = next((n for n in _LIMIT_NAMES if n in query), None)
    collection.offset_param = next((n for n in _OFFSET_NAMES if n in query), None)
    collection.page_param = next((n for n in _PAGE_NAMES if n in query), None)
    paging = {collection.limit_param, collection.offset_param, collection.page_param}
    collection.filter_params = tuple(n for n in query if n in properties and n not in paging)


def _disambiguate(collections: list[Collection]) -> None:
    """Names are unique: a nested `pets` under `/owners/{id}` becomes `owners_pets`."""
    counts: dict[str, int] = {}
    for collection in collections:
        counts[collection.name] = counts.get(collection.name, 0) + 1
    taken: set[str] = set()
    for collection in collections:
        if counts[collection.name] > 1 and collection.parent_params:
            literal = [s for s in _segments(collection.collection_path) if not _PARAM.match(s)]
            collection.name = "_".join(literal)
        base, number = collection.name, 2
        while collection.name in taken:
            collection.name = f"{base}_{number}"
            number += 1
        taken.add(collection.name)


def json_object(body: bytes) -> dict[str, Any] | None:
    """A request body as a JSON object ({} when empty); None when it is not one."""
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396: objects merge recursively, null removes a member, anything else replaces."""
    for name, value in patch.items():
        if value is None:
            target.pop(name, None)
        elif isinstance(value, dict) and isinstance(target.get(name), dict):
            target[name] = merge_patch(target[name], value)
        else:
            target[name] = value
    return target


def matches_filter(value: Any, wanted: list[str]) -> bool:
    """Whether a field value (or any element of a list) equals one of the query's values
    (comma-separated values count one by one)."""
    texts = set()
    for part in wanted:
        texts.update(p for p in part.split(",") if p)
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, bool):
            text = "true" if candidate else "false"
        elif candidate is None or isinstance(candidate, dict | list):
            continue
        else:
            text = str(candidate)
        if text in texts:
            return True
    return False


def page_number(values: dict[str, list[str]], name: str | None) -> int | None:
    """A non-negative integer query parameter (limit, offset), or None when absent or bad."""
    if name is None or not values.get(name):
        return None
    try:
        return max(int(values[name][0]), 0)
    except ValueError:
        return None
