"""The one model every description is normalised into, whatever its version.

Schemas inside the model are plain JSON Schema 2020-12 dictionaries (the OpenAPI 3.1 dialect):
OpenAPI 3.0 `nullable`, Swagger 2.0 `x-nullable` and boolean `exclusiveMinimum` are rewritten,
Swagger 2.0 `definitions` move to `components/schemas`. Every `$ref` left in a schema is local
(`#/...`) and points into `ApiSpec.document`, the normalised, bundled document: external files
were inlined at load time. Recursive schemas keep their `$ref`, so the model is a finite tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ApiSpec",
    "Example",
    "Header",
    "MediaType",
    "Operation",
    "Parameter",
    "RequestBody",
    "Response",
    "SecurityScheme",
]

ParameterLocation = Literal["path", "query", "header", "cookie"]


@dataclass(slots=True)
class Example:
    """A named example value (from `examples`, `example` or `x-example`)."""

    name: str
    value: Any
    summary: str = ""


@dataclass(slots=True)
class Parameter:
    """One operation parameter; `schema` is a JSON Schema dict (maybe `{}`).

    A loaded spec fills in the effective `style` and `explode` (form/explode for query and
    cookie, simple for path and header, unless the description says otherwise).
    """

    name: str
    location: ParameterLocation
    required: bool = False
    schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    style: str | None = None
    explode: bool | None = None
    examples: list[Example] = field(default_factory=list)
    deprecated: bool = False


@dataclass(slots=True)
class MediaType:
    """A media type of a body: its schema (None when undocumented) and its examples."""

    media_type: str
    schema: dict[str, Any] | None = None
    examples: list[Example] = field(default_factory=list)


@dataclass(slots=True)
class RequestBody:
    """A request body; `content` is keyed by media type (`application/json`, ...)."""

    required: bool = False
    content: dict[str, MediaType] = field(default_factory=dict)
    description: str = ""


@dataclass(slots=True)
class Header:
    """A documented response header."""

    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    required: bool = False
    examples: list[Example] = field(default_factory=list)
    description: str = ""


@dataclass(slots=True)
class Response:
    """A documented response; `status` is "200", "2XX" or "default"."""

    status: str
    description: str = ""
    content: dict[str, MediaType] = field(default_factory=dict)
    headers: dict[str, Header] = field(default_factory=dict)


@dataclass(slots=True)
class SecurityScheme:
    """A security scheme from `securitySchemes` (or Swagger 2.0 `securityDefinitions`).

    `type` is apiKey, http, oauth2, openIdConnect or mutualTLS; for http, `scheme` is bearer,
    basic, digest...; for apiKey, `location` and `param_name` say where the key goes.
    """

    name: str
    type: str
    scheme: str | None = None
    location: ParameterLocation | None = None
    param_name: str | None = None
    bearer_format: str | None = None
    description: str = ""


@dataclass(slots=True)
class Operation:
    """One method on one path.

    `path` is the template as the description writes it, with any query discriminator kept
    (`/#Action=DescribeAlarms`); `operation_id` is the description's, or derived from method
    and path when missing, and unique within the spec. `security` is the effective list of
    requirement objects (operation-level, else the document's); `[]` means no auth, and a
    requirement `{}` inside the list means "anonymous allowed".
    """

    operation_id: str
    method: str
    path: str
    summary: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    request_body: RequestBody | None = None
    responses: dict[str, Response] = field(default_factory=dict)
    security: list[dict[str, list[str]]] = field(default_factory=list)
    deprecated: bool = False
    pointer: str = ""


@dataclass(slots=True)
class ApiSpec:
    """A loaded, normalised description.

    Attributes:
        title, version: from `info`.
        source_version: what the source declared ("2.0", "3.0.3", "3.1.0").
        source: the path, URL, "<dict>" or "<string>" it was loaded from.
        document: the normalised, bundled OpenAPI 3.1 document (all `$ref`s local).
        operations: every operation, in document order.
        servers: server URLs (Swagger 2.0 host/basePath/schemes turned into URLs).
        base_path: the path part of the first server URL without a trailing slash ("" if none).
        security_schemes: by name.
        warnings: things that were tolerated while loading (each names its JSON pointer).
    """

    title: str
    version: str
    source_version: str
    source: str
    document: dict[str, Any]
    operations: list[Operation] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    base_path: str = ""
    security_schemes: dict[str, SecurityScheme] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def operation(self, operation_id: str) -> Operation:
        """Return the operation with this id; KeyError when there is none."""
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)
