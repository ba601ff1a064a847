"""Swagger 2.0 turned into the OpenAPI 3.0 shape the rest of the loader reads.

Body and formData parameters become a request body (with the operation's or the document's
`consumes`), response schemas become content for each `produces` type, `definitions` move to
`components/schemas` (and every `#/definitions/` reference with them), `securityDefinitions`
become `securitySchemes`, and host/basePath/schemes become server URLs. Parameter, response and
path-item references are inlined, converted, on the way; `$ref`s inside what was inlined from
another file are made absolute, so they still name the right file once they sit in the root.
"""

from __future__ import annotations

from typing import Any

from mockloop.errors import SpecError
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
_DEFINITIONS = "#/definitions/"


def _rewrite_refs(node: Any) -> Any:
    """A copy of a root-document node with `#/definitions/X` turned into components refs."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if value.startswith(_DEFINITIONS):
                    value = "#/components/schemas/" + value[len(_DEFINITIONS) :]
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
    # csv, and tsv which OpenAPI 3 cannot say: comma separated
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
            if (base, str(ref)) in seen:
                raise SpecError(
                    f"$ref {ref!r} refers to itself in a loop",
                    source=base,
                    pointer=pointer + "/$ref",
                )
            seen.add((base, str(ref)))
            node, base, tokens = self.documents.resolve(ref, base, pointer + "/$ref")
            pointer = "/" + "/".join(escape_pointer(t) for t in tokens)
        return node, base

    def localize(self, node: Any, base: str) -> Any:
        """A copy of `node` (read in document `base`) whose `$ref`s work from the root."""
        if base == self.root:
            return _rewrite_refs(node)
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    location, hash_mark, fragment = value.partition("#")
                    value = self.documents.absolute(location, base) + hash_mark + fragment
                    out[key] = value
                else:
                    out[key] = self.localize(value, base)
            return out
        if isinstance(node, list):
            return [self.localize(v, base) for v in node]
        return node

    def convert(self) -> dict[str, Any]:
        doc = self.doc
        out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("swagger", "paths")}
        out["openapi"] = "3.0.3"
        host = doc.get("host")
        base_path = str(doc.get("basePath") or "").rstrip("/")
        if host:
            schemes = [s for s in doc.get("schemes") or [] if isinstance(s, str)] or ["https"]
            out["servers"] = [{"url": f"{scheme}://{host}{base_path}"} for scheme in schemes]
        elif base_path:
            out["servers"] = [{"url": base_path}]
        components: dict[str, Any] = {}
        if isinstance(doc.get("definitions"), dict):
            components["schemas"] = _rewrite_refs(doc["definitions"])
        schemes = {}
        definitions = doc.get("securityDefinitions")
        for name, definition in definitions.items() if isinstance(definitions, dict) else []:
            if isinstance(definition, dict):
                schemes[name] = self.security_scheme(definition)
        components["securitySchemes"] = schemes
        out["components"] = components
        paths: dict[str, Any] = {}
        raw_paths = doc.get("paths")
        for path, raw_item in raw_paths.items() if isinstance(raw_paths, dict) else []:
            if str(path).startswith("x-") or not isinstance(raw_item, dict):
                continue
            pointer = "/paths/" + escape_pointer(str(path))
            item, item_base = self.deref(raw_item, self.root, pointer)
            if not isinstance(item, dict):
                continue
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
        described = {k: definition[k] for k in ("description",) if k in definition}
        if kind == "basic":
            return {"type": "http", "scheme": "basic", **described}
        if kind == "apiKey":
            return {
                "type": "apiKey",
                "name": definition.get("name", ""),
                "in": definition.get("in", "header"),
                **described,
            }
        if kind == "oauth2":
            flow = _FLOWS.get(definition.get("flow", ""), "implicit")
            body = {"scopes": definition.get("scopes") or {}}
            for key in ("authorizationUrl", "tokenUrl"):
                if key in definition:
                    body[key] = definition[key]
            return {"type": "oauth2", "flows": {flow: body}, **described}
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
        merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        item_pointer = pointer.rsplit("/", 1)[0]
        for listing, where in ((shared, item_pointer), (op.get("parameters"), pointer)):
            for index, raw in enumerate(listing if isinstance(listing, list) else []):
                param, param_base = self.deref(raw, base, f"{where}/parameters/{index}")
                if isinstance(param, dict):
                    key = (str(param.get("name", "")), str(param.get("in", "")))
                    merged[key] = (param, param_base)
        parameters, form_fields = [], []
        for param, param_base in merged.values():
            location = param.get("in")
            if location == "body":
                content: dict[str, Any] = {}
                schema = self.localize(param.get("schema") or {}, param_base)
                for media in consumes:
                    content[media] = {"schema": schema}
                named = param.get("x-examples")
                if isinstance(named, dict):
                    for media, value in named.items():
                        content.setdefault(media, {})["example"] = value
                out["requestBody"] = {
                    "required": bool(param.get("required")),
                    "description": param.get("description", ""),
                    "content": content,
                }
            elif location == "formData":
                form_fields.append((param, param_base))
            else:
                converted = {
                    k: param[k]
                    for k in ("name", "in", "description", "required", "deprecated")
                    if k in param
                }
                converted["schema"] = self.localize(_parameter_schema(param), param_base)
                converted.update(_style(param))
                if "x-example" in param:
                    converted["example"] = param["x-example"]
                parameters.append(converted)
        if form_fields:
            out["requestBody"] = self.form_body(form_fields, consumes)
        out["parameters"] = parameters
        responses = {}
        raw_responses = op.get("responses")
        for status, raw in raw_responses.items() if isinstance(raw_responses, dict) else []:
            response, response_base = self.deref(
                raw, base, f"{pointer}/responses/{escape_pointer(str(status))}"
            )
            if isinstance(response, dict):
                responses[str(status)] = self.response(response, response_base, produces)
        out["responses"] = responses
        return out

    def form_body(
        self, fields: list[tuple[dict[str, Any], str]], consumes: list[str]
    ) -> dict[str, Any]:
        has_file = any(f.get("type") == "file" for f, _ in fields)
        media = (
            "multipart/form-data"
            if has_file or "multipart/form-data" in consumes
            else "application/x-www-form-urlencoded"
        )
        properties = {}
        for field, field_base in fields:
            field_schema = self.localize(_parameter_schema(field), field_base)
            if field.get("description"):
                field_schema["description"] = field["description"]
            properties[str(field.get("name", ""))] = field_schema
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [str(f.get("name", "")) for f, _ in fields if f.get("required")]
        if required:
            schema["required"] = required
        return {"required": bool(required), "content": {media: {"schema": schema}}}

    def response(self, response: dict[str, Any], base: str, produces: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"description": response.get("description", "")}
        content: dict[str, Any] = {}
        schema = self.localize(response["schema"], base) if "schema" in response else None
        if schema is not None:
            for media in produces:
                content[media] = {"schema": schema}
        examples = response.get("examples")
        for media, value in examples.items() if isinstance(examples, dict) else []:
            entry = content.setdefault(media, {"schema": schema} if schema is not None else {})
            entry["example"] = value
        if content:
            out["content"] = content
        headers = {}
        raw_headers = response.get("headers")
        for name, header in raw_headers.items() if isinstance(raw_headers, dict) else []:
            if isinstance(header, dict):
                converted = {
                    "description": header.get("description", ""),
                    "schema": self.localize(_parameter_schema(header), base),
                }
                if "x-example" in header:
                    converted["example"] = header["x-example"]
                headers[name] = converted
        if headers:
            out["headers"] = headers
        return out


def convert_swagger2(
    doc: dict[str, Any], documents: Documents, warnings: list[str]
) -> dict[str, Any]:
    """An OpenAPI 3.0-shaped copy of a Swagger 2.0 document (the input is not changed)."""
    return _Converter(doc, documents, warnings).convert()
