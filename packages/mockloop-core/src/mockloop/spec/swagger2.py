"""Swagger 2.0 turned into the OpenAPI 3.0 shape the rest of the loader reads.

Body and formData parameters become a request body (with the operation's or the document's
`consumes`), response schemas become content for each `produces` type, `definitions` move to
`components/schemas` (and every `#/definitions/` reference with them), `securityDefinitions`
become `securitySchemes`, and host/basePath/schemes become a server URL. Parameter and
response references are inlined, converted, on the way.
"""

from __future__ import annotations

from typing import Any

from mockloop.spec.refs import Documents, escape_pointer

__all__ = ["convert_swagger2"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
)
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}
_REF_PREFIXES = (("#/definitions/", "#/components/schemas/"),)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for old, new in _REF_PREFIXES:
                    if value.startswith(old):
                        value = new + value[len(old) :]
                out[key] = value
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _parameter_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema = {k: param[k] for k in _SCHEMA_KEYS if k in param}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _parameter_schema(schema["items"]) | (
            {"$ref": schema["items"]["$ref"]} if "$ref" in schema["items"] else {}
        )
    return schema


def _style(param: dict[str, Any]) -> dict[str, Any]:
    fmt = param.get("collectionFormat")
    if param.get("type") != "array" or fmt is None:
        return {}
    location = param.get("in")
    if fmt == "multi":
        return {"style": "form", "explode": True}
    if fmt == "ssv":
        return {"style": "spaceDelimited", "explode": False}
    if fmt == "pipes":
        return {"style": "pipeDelimited", "explode": False}
    return {"style": "form" if location in ("query", "formData") else "simple", "explode": False}


class _Converter:
    def __init__(self, doc: dict[str, Any], documents: Documents, warnings: list[str]) -> None:
        self.doc = doc
        self.documents = documents
        self.warnings = warnings
        self.root = documents.root_location

    def deref(self, node: Any, base: str, pointer: str) -> tuple[Any, str]:
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if (base, ref) in seen:
                from mockloop.errors import SpecError

                raise SpecError(
                    f"$ref {ref!r} refers to itself in a loop", source=base, pointer=pointer
                )
            seen.add((base, ref))
            node, base, tokens = self.documents.resolve(ref, base, pointer + "/$ref")
            pointer = "/" + "/".join(escape_pointer(t) for t in tokens)
        return node, base

    def convert(self) -> dict[str, Any]:
        doc = self.doc
        out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("swagger", "paths")}
        out["openapi"] = "3.0.3"
        host = doc.get("host")
        base_path = doc.get("basePath") or ""
        if host:
            schemes = doc.get("schemes") or ["https"]
            out["servers"] = [{"url": f"{schemes[0]}://{host}{base_path}"}]
        elif base_path:
            out["servers"] = [{"url": base_path}]
        components: dict[str, Any] = {}
        if isinstance(doc.get("definitions"), dict):
            components["schemas"] = _rewrite_refs(doc["definitions"])
        schemes = {}
        for name, definition in (doc.get("securityDefinitions") or {}).items():
            schemes[name] = self.security_scheme(definition)
        components["securitySchemes"] = schemes
        out["components"] = components
        paths: dict[str, Any] = {}
        for path, item in (doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            pointer = "/paths/" + escape_pointer(path)
            item, item_base = self.deref(item, self.root, pointer)
            shared = item.get("parameters") or []
            new_item: dict[str, Any] = {}
            for method in _METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    new_item[method] = self.operation(op, shared, item_base, f"{pointer}/{method}")
            paths[path] = new_item
        out["paths"] = paths
        return out

    def security_scheme(self, definition: dict[str, Any]) -> dict[str, Any]:
        kind = definition.get("type")
        if kind == "basic":
            return {"type": "http", "scheme": "basic"}
        if kind == "apiKey":
            return {
                "type": "apiKey",
                "name": definition.get("name", ""),
                "in": definition.get("in", "header"),
            }
        if kind == "oauth2":
            flow = _FLOWS.get(definition.get("flow", ""), "implicit")
            body = {"scopes": definition.get("scopes") or {}}
            for key in ("authorizationUrl", "tokenUrl"):
                if key in definition:
                    body[key] = definition[key]
            return {"type": "oauth2", "flows": {flow: body}}
        return dict(definition)

    def operation(
        self, op: dict[str, Any], shared: list[Any], base: str, pointer: str
    ) -> dict[str, Any]:
        out = {
            k: v
            for k, v in op.items()
            if k not in ("parameters", "responses", "consumes", "produces")
        }
        consumes = op.get("consumes") or self.doc.get("consumes") or ["application/json"]
        produces = op.get("produces") or self.doc.get("produces") or ["application/json"]
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for index, raw in enumerate([*shared, *(op.get("parameters") or [])]):
            param, _ = self.deref(raw, base, f"{pointer}/parameters/{index}")
            if isinstance(param, dict):
                merged[(param.get("name", ""), param.get("in", ""))] = param
        parameters, form_fields = [], []
        for param in merged.values():
            location = param.get("in")
            if location == "body":
                out["requestBody"] = {
                    "required": bool(param.get("required")),
                    "description": param.get("description", ""),
                    "content": {
                        m: {"schema": _rewrite_refs(param.get("schema") or {})} for m in consumes
                    },
                }
            elif location == "formData":
                form_fields.append(param)
            else:
                converted = {
                    k: param[k]
                    for k in ("name", "in", "description", "required", "deprecated")
                    if k in param
                }
                converted["schema"] = _rewrite_refs(_parameter_schema(param))
                converted.update(_style(param))
                if "x-example" in param:
                    converted["example"] = param["x-example"]
                parameters.append(converted)
        if form_fields:
            has_file = any(f.get("type") == "file" for f in form_fields)
            media = (
                "multipart/form-data"
                if has_file or "multipart/form-data" in consumes
                else "application/x-www-form-urlencoded"
            )
            schema = {
                "type": "object",
                "properties": {f["name"]: _rewrite_refs(_parameter_schema(f)) for f in form_fields},
            }
            required = [f["name"] for f in form_fields if f.get("required")]
            if required:
                schema["required"] = required
            out["requestBody"] = {
                "required": bool(required),
                "content": {media: {"schema": schema}},
            }
        out["parameters"] = parameters
        responses = {}
        for status, raw in (op.get("responses") or {}).items():
            response, _ = self.deref(raw, base, f"{pointer}/responses/{escape_pointer(status)}")
            if isinstance(response, dict):
                responses[str(status)] = self.response(response, produces)
        out["responses"] = responses
        return out

    def response(self, response: dict[str, Any], produces: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"description": response.get("description", "")}
        content: dict[str, Any] = {}
        if "schema" in response:
            schema = _rewrite_refs(response["schema"])
            for media in produces:
                content[media] = {"schema": schema}
        for media, value in (response.get("examples") or {}).items():
            entry = content.setdefault(
                media,
                {"schema": _rewrite_refs(response.get("schema"))} if "schema" in response else {},
            )
            entry["example"] = value
        if content:
            out["content"] = content
        headers = {}
        for name, header in (response.get("headers") or {}).items():
            if isinstance(header, dict):
                headers[name] = {
                    "description": header.get("description", ""),
                    "schema": _parameter_schema(header),
                }
        if headers:
            out["headers"] = headers
        return out


def convert_swagger2(
    doc: dict[str, Any], documents: Documents, warnings: list[str]
) -> dict[str, Any]:
    """An OpenAPI 3.0-shaped copy of a Swagger 2.0 document (the input is not changed)."""
    return _Converter(doc, documents, warnings).convert()
