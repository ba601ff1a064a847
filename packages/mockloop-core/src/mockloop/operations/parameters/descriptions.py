"""The shape of an API description given inline: an OpenAPI 3.x or Swagger 2.0 document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ApiInfo", "ApiServer", "OpenApiDocument"]


class ApiInfo(BaseModel):
    """The description's `info` object: the API's title and version."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"title": "Petstore", "version": "1.0.0"}]}
    )

    title: str = Field(description="the API's name, e.g. Petstore")
    version: str = Field(description="the API's own version (not the OpenAPI version)")
    description: str | None = Field(default=None, description="what the API is for")


class ApiServer(BaseModel):
    """One entry of the description's `servers` list (OpenAPI 3.x)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"url": "http://127.0.0.1:8000/v1"}]}
    )

    url: str = Field(description="the base URL request paths are appended to")
    description: str | None = Field(default=None, description="what this server is")


_PETSTORE = {
    "openapi": "3.0.3",
    "info": {"title": "Petstore", "version": "1.0.0"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {
                        "description": "the pet",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "name": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "404": {"description": "no such pet"},
                },
            }
        }
    },
}


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.x or Swagger 2.0 document as a JSON object (the parsed YAML/JSON file).

    Give `openapi` (3.x) or `swagger` ("2.0"), `info` and `paths`; the rest is the
    OpenAPI specification's own (components, security schemes, tags, ...).
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_PETSTORE]})

    openapi: str | None = Field(default=None, description='the OpenAPI version, e.g. "3.0.3"')
    swagger: str | None = Field(default=None, description='"2.0" for a Swagger 2.0 document')
    info: ApiInfo = Field(description="the API's title and version")
    servers: list[ApiServer] | None = Field(
        default=None, description="OpenAPI 3.x: base URLs (their path is the base path)"
    )
    basePath: str | None = Field(default=None, description="Swagger 2.0: the base path")
    paths: dict[str, dict[str, Any]] = Field(
        description="path template -> path item: operations by lower-case HTTP method "
        "(get, post, ...), each with operationId, parameters, requestBody and responses"
    )
    components: dict[str, Any] | None = Field(
        default=None,
        description="OpenAPI 3.x: reusable schemas, responses, parameters, securitySchemes",
    )
    definitions: dict[str, Any] | None = Field(
        default=None, description="Swagger 2.0: reusable schemas"
    )
    security: list[dict[str, list[str]]] | None = Field(
        default=None, description="security requirements applying to every operation"
    )
