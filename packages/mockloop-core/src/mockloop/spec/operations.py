"""Operations: the model built from an OpenAPI 3.x-shaped document.

Parameters, request bodies, responses, headers and examples are dereferenced here (they are
not recursive); their schemas go through the `SchemaBundler`. `render_paths` writes the model
back as an OpenAPI 3.1 `paths` object, so `ApiSpec.document` always says what the mock serves.
"""

from __future__ import annotations

import re
from typing import Any

from mockloop.errors import SpecError
from mockloop.spec.model import (
    Example,
    Header,
    MediaType,
    Operation,
    Parameter,
    RequestBody,
    Response,
    SecurityScheme,
)
from mockloop.spec.refs import Documents, escape_pointer
from mockloop.spec.schemas import SchemaBundler
from mockloop.spec.validation import SchemaValidator

__all__ = ["OperationBuilder", "example_warnings", "render_paths", "security_schemes"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = {"path", "query", "header", "cookie"}


class OperationBuilder:
    """Builds the `Operation`s of one OpenAPI 3.x-shaped document, in document order."""

    def __init__(
        self, documents: Documents, bundler: SchemaBundler, doc: dict[str, Any], warnings: list[str]
    ) -> None:
        self.documents = documents
        self.bundler = bundler
        self.doc = doc
        self.warnings = warnings
        self.root = documents.root_location

    def deref(self, node: Any, base: str, pointer: str) -> tuple[Any, str, str]:
        """Follow `$ref`s (parameters, bodies, responses...) to the object, its file and pointer."""
        seen: set[tuple[str, str]] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if (base, str(ref)) in seen:
                raise SpecError(
                    f"$ref {ref!r} refers to itself in a loop",
                    source=base,
                    pointer=pointer + "/$ref",
                )
            seen.add((base, str(ref)))
            node, base, tokens = self.documents.resolve(ref, base, pointer + "/$ref")
            pointer = "/" + "/".join(escape_pointer(t) for t in tokens)
        return node, base, pointer

    def build(self) -> list[Operation]:
        operations: list[Operation] = []
        paths: dict[str, Any] = self.doc.get("paths") or {}
        default_security = self.doc.get("security")
        for path, raw_item in paths.items():
            if str(path).startswith("x-"):
                continue  # an extension (`x-codegen-...`), not a path
            pointer = "/paths/" + escape_pointer(str(path))
            item, base, item_pointer = self.deref(raw_item, self.root, pointer)
            if not isinstance(item, dict):
                self.warnings.append(f"{self.root}#{pointer}: a path item must be an object")
                continue
            shared = item.get("parameters") or []
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                op_pointer = f"{item_pointer}/{method}"
                security = op.get("security", default_security)
                operations.append(
                    Operation(
                        operation_id=str(op.get("operationId") or ""),
                        method=method,
                        path=str(path),
                        summary=str(op.get("summary") or ""),
                        description=str(op.get("description") or ""),
                        tags=[str(t) for t in op.get("tags") or [] if isinstance(t, (str, int))],
                        parameters=self.parameters(
                            shared, op.get("parameters") or [], base, item_pointer, op_pointer
                        ),
                        request_body=self.request_body(
                            op.get("requestBody"), base, op_pointer + "/requestBody"
                        ),
                        responses=self.responses(
                            op.get("responses") or {}, base, op_pointer + "/responses"
                        ),
                        security=_security(security),
                        deprecated=bool(op.get("deprecated")),
                        pointer=op_pointer,
                    )
                )
        _assign_ids(operations, self.warnings)
        return operations

    def parameters(
        self, shared: list[Any], own: list[Any], base: str, item_pointer: str, op_pointer: str
    ) -> list[Parameter]:
        merged: dict[tuple[str, str], Parameter] = {}
        for listing, pointer in ((shared, item_pointer), (own, op_pointer)):
            if not isinstance(listing, list):
                continue
            for index, raw in enumerate(listing):
                param, param_base, param_pointer = self.deref(
                    raw, base, f"{pointer}/parameters/{index}"
                )
                if not isinstance(param, dict) or "name" not in param:
                    self.warnings.append(f"{base}#{pointer}/parameters/{index}: not a parameter")
                    continue
                location = param.get("in")
                if location not in _LOCATIONS:
                    self.warnings.append(
                        f"{param_base}#{param_pointer}/in: unknown location {location!r}"
                    )
                    continue
                schema: Any = param.get("schema")
                schema_pointer = param_pointer + "/schema"
                if schema is None and isinstance(param.get("content"), dict) and param["content"]:
                    media, first = next(iter(param["content"].items()))
                    schema = first.get("schema") if isinstance(first, dict) else None
                    schema_pointer = f"{param_pointer}/content/{escape_pointer(str(media))}/schema"
                if schema is None:
                    self.warnings.append(
                        f"{param_base}#{param_pointer}: parameter {param['name']!r} has no "
                        "schema; any value is accepted"
                    )
                # The effective serialisation, defaults filled in, so 2.0 and 3.x agree.
                style = param.get("style")
                if not isinstance(style, str) or not style:
                    style = "form" if location in ("query", "cookie") else "simple"
                explode = param.get("explode")
                if not isinstance(explode, bool):
                    explode = style == "form"
                merged[(str(param["name"]), location)] = Parameter(
                    name=str(param["name"]),
                    location=location,
                    required=bool(param.get("required")) or location == "path",
                    schema=self.bundler.schema(schema, param_base, schema_pointer)
                    if schema is not None
                    else {},
                    description=str(param.get("description") or ""),
                    style=style,
                    explode=explode,
                    examples=self.examples(param, param_base, param_pointer),
                    deprecated=bool(param.get("deprecated")),
                )
        return list(merged.values())

    def examples(self, holder: dict[str, Any], base: str, pointer: str) -> list[Example]:
        found: list[Example] = []
        named = holder.get("examples")
        if isinstance(named, dict):
            for name, raw in named.items():
                try:
                    example, _, _ = self.deref(
                        raw, base, f"{pointer}/examples/{escape_pointer(str(name))}"
                    )
                except SpecError as exc:
                    self.warnings.append(f"example {name!r} skipped: {exc}")
                    continue
                if isinstance(example, dict) and "value" in example:
                    found.append(
                        Example(str(name), example["value"], str(example.get("summary") or ""))
                    )
        if "example" in holder:
            found.append(Example("default", holder["example"]))
        elif "x-example" in holder:
            found.append(Example("default", holder["x-example"]))
        return found

    def media_types(self, content: Any, base: str, pointer: str) -> dict[str, MediaType]:
        result: dict[str, MediaType] = {}
        if not isinstance(content, dict):
            return result
        for media, raw in content.items():
            media_pointer = f"{pointer}/content/{escape_pointer(str(media))}"
            if not isinstance(raw, dict):
                raw = {}
            schema = raw.get("schema")
            result[str(media)] = MediaType(
                media_type=str(media),
                schema=self.bundler.schema(schema, base, media_pointer + "/schema")
                if schema is not None
                else None,
                examples=self.examples(raw, base, media_pointer),
            )
        return result

    def request_body(self, raw: Any, base: str, pointer: str) -> RequestBody | None:
        if raw is None:
            return None
        body, body_base, body_pointer = self.deref(raw, base, pointer)
        if not isinstance(body, dict):
            return None
        return RequestBody(
            required=bool(body.get("required")),
            content=self.media_types(body.get("content"), body_base, body_pointer),
            description=str(body.get("description") or ""),
        )

    def responses(self, raw: Any, base: str, pointer: str) -> dict[str, Response]:
        result: dict[str, Response] = {}
        if not isinstance(raw, dict):
            return result
        for status, entry in raw.items():
            key = str(status)
            if not re.fullmatch(r"[1-5](\d\d|XX|xx)|default", key):
                if not key.startswith("x-"):
                    self.warnings.append(f"{base}#{pointer}/{key}: not a status code, ignored")
                continue
            response, r_base, r_pointer = self.deref(
                entry, base, f"{pointer}/{escape_pointer(key)}"
            )
            if not isinstance(response, dict):
                continue
            headers = {}
            for name, raw_header in (response.get("headers") or {}).items():
                header, h_base, h_pointer = self.deref(
                    raw_header, r_base, f"{r_pointer}/headers/{escape_pointer(str(name))}"
                )
                if not isinstance(header, dict):
                    continue
                schema = header.get("schema")
                headers[str(name)] = Header(
                    name=str(name),
                    schema=self.bundler.schema(schema, h_base, h_pointer + "/schema")
                    if schema is not None
                    else {},
                    required=bool(header.get("required")),
                    examples=self.examples(header, h_base, h_pointer),
                    description=str(header.get("description") or ""),
                )
            result[key.upper() if key[1:] in ("xx", "XX") else key] = Response(
                status=key.upper() if key[1:] in ("xx", "XX") else key,
                description=str(response.get("description") or ""),
                content=self.media_types(response.get("content"), r_base, r_pointer),
                headers=headers,
            )
        return result


def example_warnings(
    operations: list[Operation], validator: SchemaValidator, warnings: list[str]
) -> None:
    """Warn about each documented example that does not match its own schema."""
    for op in operations:
        bodies = [("requestBody", op.request_body.content)] if op.request_body else []
        bodies += [(f"responses/{status}", r.content) for status, r in op.responses.items()]
        for where, content in bodies:
            for media in content.values():
                if media.schema is None or not _is_json(media.media_type):
                    continue
                for example in media.examples:
                    errors = validator.errors(media.schema, example.value, limit=1)
                    if errors:
                        warnings.append(
                            f"#{op.pointer}/{where}/content/{escape_pointer(media.media_type)}"
                            f"/examples/{escape_pointer(example.name)}: the example does not "
                            f"match its schema ({errors[0]})"
                        )
        for param in op.parameters:
            for example in param.examples:
                errors = validator.errors(param.schema, example.value, limit=1)
                if errors:
                    warnings.append(
                        f"#{op.pointer}/parameters/{param.name}: example {example.name!r} "
                        f"does not match the schema ({errors[0]})"
                    )


def _is_json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json") or base == "*/*"


def _security(raw: Any) -> list[dict[str, list[str]]]:
    if not isinstance(raw, list):
        return []
    result = []
    for requirement in raw:
        if isinstance(requirement, dict):
            result.append(
                {str(k): list(v) if isinstance(v, list) else [] for k, v in requirement.items()}
            )
    return result


def _assign_ids(operations: list[Operation], warnings: list[str]) -> None:
    seen: dict[str, int] = {}
    for op in operations:
        wanted = op.operation_id
        if not wanted:
            wanted = re.sub(r"[^A-Za-z0-9]+", "_", f"{op.method}_{op.path}").strip("_")
        if wanted in seen:
            seen[wanted] += 1
            unique = f"{wanted}_{seen[wanted]}"
            while unique in seen:
                seen[wanted] += 1
                unique = f"{wanted}_{seen[wanted]}"
            if op.operation_id:
                warnings.append(
                    f"#{op.pointer}/operationId: duplicate {wanted!r} renamed {unique!r}"
                )
            wanted = unique
        seen.setdefault(wanted, 1)
        op.operation_id = wanted


def security_schemes(raw: Any, warnings: list[str]) -> dict[str, SecurityScheme]:
    schemes: dict[str, SecurityScheme] = {}
    if not isinstance(raw, dict):
        return schemes
    for name, scheme in raw.items():
        if not isinstance(scheme, dict) or "type" not in scheme:
            warnings.append(f"#/components/securitySchemes/{name}: no type; ignored")
            continue
        location = scheme.get("in")
        schemes[str(name)] = SecurityScheme(
            name=str(name),
            type=str(scheme["type"]),
            scheme=str(scheme["scheme"]).lower() if scheme.get("scheme") else None,
            location=location if location in _LOCATIONS else None,
            param_name=scheme.get("name"),
            bearer_format=scheme.get("bearerFormat"),
            description=str(scheme.get("description") or ""),
        )
    return schemes


def _render_examples(examples: list[Example]) -> dict[str, Any]:
    if not examples:
        return {}
    return {
        "examples": {
            e.name: {"value": e.value, **({"summary": e.summary} if e.summary else {})}
            for e in examples
        }
    }


def _render_media(content: dict[str, MediaType]) -> dict[str, Any]:
    return {
        media: {
            **({"schema": m.schema} if m.schema is not None else {}),
            **_render_examples(m.examples),
        }
        for media, m in content.items()
    }


def _render_parameter(p: Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": p.location, "required": p.required}
    if p.description:
        out["description"] = p.description
    if p.deprecated:
        out["deprecated"] = True
    out["schema"] = p.schema
    if p.style:
        out["style"] = p.style
    if p.explode is not None:
        out["explode"] = p.explode
    out.update(_render_examples(p.examples))
    return out


def _render_response(status: str, r: Response) -> dict[str, Any]:
    out: dict[str, Any] = {"description": r.description or status}
    if r.headers:
        out["headers"] = {
            name: {
                **({"description": h.description} if h.description else {}),
                "required": h.required,
                "schema": h.schema,
                **_render_examples(h.examples),
            }
            for name, h in r.headers.items()
        }
    if r.content:
        out["content"] = _render_media(r.content)
    return out


def render_paths(operations: list[Operation]) -> dict[str, Any]:
    """The model as an OpenAPI 3.1 `paths` object."""
    paths: dict[str, Any] = {}
    for op in operations:
        entry: dict[str, Any] = {"operationId": op.operation_id}
        if op.summary:
            entry["summary"] = op.summary
        if op.description:
            entry["description"] = op.description
        if op.tags:
            entry["tags"] = op.tags
        if op.parameters:
            entry["parameters"] = [_render_parameter(p) for p in op.parameters]
        if op.request_body is not None:
            body = op.request_body
            entry["requestBody"] = {
                **({"description": body.description} if body.description else {}),
                "required": body.required,
                "content": _render_media(body.content),
            }
        entry["responses"] = {
            status: _render_response(status, r) for status, r in op.responses.items()
        } or {"default": {"description": "undocumented"}}
        entry["security"] = op.security
        if op.deprecated:
            entry["deprecated"] = True
        paths.setdefault(op.path, {})[op.method] = entry
    return paths
