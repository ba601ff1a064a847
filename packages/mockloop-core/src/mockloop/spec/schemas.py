"""Schemas: normalised to JSON Schema 2020-12 and bundled into `components/schemas`.

Every schema the model carries is rewritten once: OpenAPI 3.0 `nullable` and Swagger 2.0
`x-nullable` become a `"null"` type (or an `anyOf` with `{"type": "null"}`), boolean
`exclusiveMinimum/Maximum` become numbers, `type: file` becomes a binary string, a 3.0 `$ref`
loses its (ignored) siblings. Every `$ref` ends up as `#/components/schemas/<name>`: a root
component keeps its name; any other target (another file, a URL, an inline schema somewhere in
the document) is copied under a new unique name. A name is reserved before its target is
walked, so recursive schemas terminate and stay recursive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from mockloop.errors import SpecError
from mockloop.spec.refs import Documents, escape_pointer

__all__ = ["KNOWN_FORMATS", "SchemaBundler", "component_ref"]

_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SINGLE = (
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
    "additionalItems",
)
_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
# JSON Schema's formats and the OpenAPI format registry's; others are kept but never checked.
KNOWN_FORMATS = frozenset(
    (  # noqa: SIM905 - a word list reads better than 46 quoted lines
        "date-time date time duration email idn-email hostname idn-hostname ipv4 ipv6 uri "
        "uri-reference iri iri-reference uri-template uuid json-pointer relative-json-pointer "
        "regex int8 int16 int32 int64 uint8 uint16 uint32 uint64 float double decimal "
        "decimal128 byte binary base64url char password commonmark html http-date media-range "
        "sf-binary sf-boolean sf-decimal sf-integer sf-string sf-token"
    ).split()
)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def component_ref(name: str) -> str:
    return "#/components/schemas/" + quote(escape_pointer(name), safe="~!$&'()*+,;=:@-._")


class SchemaBundler:
    """Normalises schemas and collects the components they need."""

    def __init__(
        self,
        documents: Documents,
        *,
        dialect: str,
        warnings: list[str],
        root_prefixes: tuple[str, ...] = ("/components/schemas/",),
    ) -> None:
        self.documents = documents
        self.dialect = dialect  # "3.0" (also used for 2.0 after conversion) or "3.1"
        self.warnings = warnings
        self.components: dict[str, Any] = {}
        # Where the root document keeps its named schemas (Swagger 2.0 adds /definitions/).
        self._root_prefixes = root_prefixes
        self._root_names: set[str] = set()
        self._imports: dict[tuple[str, tuple[str, ...]], str] = {}
        self._used: set[str] = set()
        self._done: dict[tuple[str, str], Any] = {}
        self._formats: dict[str, tuple[str, int]] = {}

    # -- entry points -----------------------------------------------------------------------

    def add_root_components(self, schemas: Any) -> None:
        if not isinstance(schemas, dict):
            return
        self._root_names = set(schemas)
        self._used |= self._root_names
        root = self.documents.root_location
        for name, value in schemas.items():
            self.components[name] = self.schema(
                value, root, "/components/schemas/" + escape_pointer(name)
            )

    def schema(self, node: Any, base: str, pointer: str) -> Any:
        """The normalised copy of one schema found at `pointer` of document `base`.

        The copy is made once: a parameter or response shared by many operations shares one
        schema object (read-only by contract), which also lets validators compile it once.
        """
        key = (base, pointer)
        done = self._done.get(key)
        if done is None:
            done = self._done[key] = self._schema(node, base, pointer)
        return done

    def format_warnings(self) -> list[str]:
        """One warning per unknown `format`, naming where it was first seen."""
        return [
            f"{where}: unknown format {name!r} is kept but not checked"
            + (f" ({count} schemas use it)" if count > 1 else "")
            for name, (where, count) in self._formats.items()
        ]

    def _schema(self, node: Any, base: str, pointer: str) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            self.warnings.append(f"{base}#{pointer}: a schema must be an object; treated as {{}}")
            return {}
        if "$ref" in node:
            ref = self._ref(node["$ref"], base, pointer + "/$ref")
            if ref is None:
                return {}
            if self.dialect == "3.0" or len(node) == 1:
                return {"$ref": ref}
            rest = {k: v for k, v in node.items() if k != "$ref"}
            merged = self._schema(rest, base, pointer)
            if isinstance(merged, dict):
                merged["$ref"] = ref
            return merged
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS:
                if isinstance(value, dict):
                    out[key] = {
                        name: self._schema(sub, base, f"{pointer}/{key}/{escape_pointer(name)}")
                        for name, sub in value.items()
                    }
            elif key in _SCHEMA_LISTS:
                if isinstance(value, list):
                    out[key] = [
                        self._schema(sub, base, f"{pointer}/{key}/{i}")
                        for i, sub in enumerate(value)
                    ]
            elif key in _SCHEMA_SINGLE:
                if isinstance(value, (dict, bool)):
                    out[key] = self._schema(value, base, f"{pointer}/{key}")
            elif key == "items":
                if isinstance(value, list):  # draft-4 tuple form
                    out["prefixItems"] = [
                        self._schema(sub, base, f"{pointer}/items/{i}")
                        for i, sub in enumerate(value)
                    ]
                elif isinstance(value, (dict, bool)):
                    out["items"] = self._schema(value, base, f"{pointer}/items")
            elif key in ("nullable", "x-nullable", "exclusiveMinimum", "exclusiveMaximum"):
                continue  # handled below, once the rest is known
            elif key == "required":
                if isinstance(value, list):
                    out[key] = [r for r in value if isinstance(r, str)]
            elif key == "type":
                out[key] = value
            elif key == "discriminator":
                out[key] = self._discriminator(value, base, f"{pointer}/discriminator")
            elif key == "format":
                out[key] = value
                if isinstance(value, str) and value and value not in KNOWN_FORMATS:
                    where, count = self._formats.get(value, (f"{base}#{pointer}/format", 0))
                    self._formats[value] = (where, count + 1)
            else:
                out[key] = value
        self._fix_type(out, base, pointer)
        self._fix_bounds(node, out)
        if node.get("nullable") is True or node.get("x-nullable") is True:
            out = _nullable(out)
        return out

    # -- pieces -----------------------------------------------------------------------------

    def _ref(self, ref: Any, base: str, site: str) -> str | None:
        """The local `$ref` for a reference, importing its target; None when it is unusable."""
        if not isinstance(ref, str):
            self.warnings.append(f"{base}#{site}: $ref {ref!r} is not a string; treated as {{}}")
            return None
        location_part, _, fragment = ref.partition("#")
        fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            self.warnings.append(
                f"{base}#{site}: $ref {ref!r} names an anchor, not a JSON pointer; treated as {{}}"
            )
            return None
        location = self.documents.absolute(location_part, base)
        if location == self.documents.root_location:
            for prefix in self._root_prefixes:
                if fragment.startswith(prefix) and "/" not in fragment[len(prefix) :]:
                    name = fragment[len(prefix) :].replace("~1", "/").replace("~0", "~")
                    if name in self._root_names:
                        return component_ref(name)
        target, location, tokens = self.documents.resolve(ref, base, site)
        key = (location, tokens)
        name = self._imports.get(key)
        if name is None:
            hint = tokens[-1] if tokens else Path(urlsplit(location).path).stem
            name = self._unique(hint)
            self._imports[key] = name
            # Reserved before the walk, so a recursive target meets its own name and stops.
            self.components[name] = {}
            self.components[name] = self._schema(
                target, location, "/" + "/".join(escape_pointer(t) for t in tokens)
            )
        return component_ref(name)

    def _discriminator(self, value: Any, base: str, pointer: str) -> Any:
        if isinstance(value, str):  # Swagger 2.0 names only the property
            return {"propertyName": value}
        if not isinstance(value, dict) or not isinstance(value.get("mapping"), dict):
            return value
        mapping: dict[str, Any] = {}
        for tag, target in value["mapping"].items():
            # A bare name means a component schema; anything with a pointer or a file is a ref.
            if isinstance(target, str) and (
                "#" in target or "/" in target or target.endswith((".json", ".yaml", ".yml"))
            ):
                try:
                    local = self._ref(target, base, f"{pointer}/mapping/{escape_pointer(tag)}")
                except SpecError as exc:
                    self.warnings.append(f"discriminator mapping {tag!r} kept as written: {exc}")
                else:
                    target = local or target
            mapping[tag] = target
        return {**value, "mapping": mapping}

    def _unique(self, hint: str) -> str:
        base = _UNSAFE_NAME.sub("_", hint).strip("_") or "Schema"
        name = base
        counter = 2
        while name in self._used:
            name = f"{base}_{counter}"
            counter += 1
        self._used.add(name)
        return name

    def _fix_type(self, out: dict[str, Any], base: str, pointer: str) -> None:
        kind = out.get("type")
        if kind is None:
            return
        if kind == "file":
            out["type"] = "string"
            out.setdefault("format", "binary")
            return
        kinds = kind if isinstance(kind, list) else [kind]
        valid = [k for k in kinds if isinstance(k, str) and k in _TYPES]
        if len(valid) != len(kinds):
            self.warnings.append(f"{base}#{pointer}/type: unknown type {kind!r} ignored")
        if not valid:
            del out["type"]
        else:
            out["type"] = valid if isinstance(kind, list) else valid[0]

    def _fix_bounds(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        for exclusive, inclusive in (
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ):
            value = node.get(exclusive)
            if isinstance(value, bool):
                if value and isinstance(node.get(inclusive), (int, float)):
                    out[exclusive] = node[inclusive]
                    out.pop(inclusive, None)
            elif isinstance(value, (int, float)):
                out[exclusive] = value


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if "enum" in schema and isinstance(schema["enum"], list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if isinstance(kind, str):
        if kind != "null":
            schema["type"] = [kind, "null"]
        return schema
    if isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
        return schema
    if "enum" in schema and not any(k in schema for k in ("$ref", "allOf", "anyOf", "oneOf")):
        return schema
    wrapped: dict[str, Any] = {"anyOf": [schema, {"type": "null"}]}
    for annotation in ("readOnly", "writeOnly", "title", "description", "deprecated"):
        if annotation in schema:
            wrapped[annotation] = schema[annotation]
    return wrapped
