"""A large, realistic OpenAPI 3.0 description, generated deterministically (GitHub REST size).

The shape follows what makes api.github.com's description heavy: ~1,000 operations over ~300
paths, ~600 component schemas reached through `$ref`s (nested objects, arrays of references,
`allOf` compositions, enums, nullable fields, formats), shared parameters and responses by
`$ref`, path and query parameters, long descriptions, and inline examples on most responses,
pretty-printed to ~10 MB of JSON. The same seed always gives the same bytes.

Run: python bench/synthetic_spec.py [OUT.json] [--resources 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

__all__ = ["build_spec", "write_synthetic_spec"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NOUNS = _words(
    "repository issue pull comment label milestone release asset deployment environment "
    "workflow run job artifact secret variable runner hook team member project column card "
    "gist key package version alert advisory check suite status branch tag commit tree "
    "blob ref invitation membership installation token app plan codespace machine "
    "discussion reaction notification"
)
_SCOPES = (
    ("Org", "/orgs/{org}", ["org"]),
    ("Repo", "/repos/{owner}/{repo}", ["owner", "repo"]),
)
_WORDS = _words(
    "the a resource request response account organization repository user access token "
    "scope list returns result page value field object lists created updated deleted "
    "permission admin owner member visibility private public internal default branch "
    "protection rule webhook event payload delivery status check run workflow job secret "
    "variable environment deployment review approval required optional parameter "
    "identifier unique numeric string timestamp format ISO 8601 UTC pagination link header "
    "cursor limit maximum minimum specified configured enabled disabled archived locked "
    "merged closed open pending success failure cancelled skipped neutral queued in "
    "progress completed"
)
_FIELD_KINDS = (
    ("description", {"type": "string", "maxLength": 1024}),
    ("homepage", {"type": "string", "format": "uri"}),
    ("email", {"type": "string", "format": "email"}),
    ("size", {"type": "integer", "minimum": 0}),
    ("score", {"type": "number", "format": "double", "minimum": 0, "maximum": 100}),
    ("is_private", {"type": "boolean"}),
    ("archived", {"type": "boolean"}),
    ("language", {"type": "string", "nullable": True}),
    ("topics", {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]{1,35}$"}}),
    ("updated_at", {"type": "string", "format": "date-time"}),
    ("closed_at", {"type": "string", "format": "date-time", "nullable": True}),
    ("sha", {"type": "string", "pattern": "^[0-9a-f]{40}$", "minLength": 40, "maxLength": 40}),
    ("color", {"type": "string", "pattern": "^[0-9a-fA-F]{6}$"}),
    ("count", {"type": "integer", "format": "int32", "minimum": 0, "maximum": 100000}),
    ("metadata", {"type": "object", "additionalProperties": {"type": "string"}}),
    ("due_on", {"type": "string", "format": "date", "nullable": True}),
    ("visibility", {"type": "string", "enum": ["public", "private", "internal"]}),
    (
        "permissions",
        {
            "type": "object",
            "required": ["admin", "pull", "push"],
            "properties": {
                "admin": {"type": "boolean"},
                "maintain": {"type": "boolean"},
                "push": {"type": "boolean"},
                "triage": {"type": "boolean"},
                "pull": {"type": "boolean"},
            },
        },
    ),
)


class _Builder:
    def __init__(self, resources: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.resources = []
        for index in range(resources):
            noun = _NOUNS[index % len(_NOUNS)]
            scope, prefix, params = _SCOPES[(index // len(_NOUNS)) % len(_SCOPES)]
            cycle = index // (len(_NOUNS) * len(_SCOPES))
            suffix = str(cycle + 1) if cycle else ""
            name = scope + "".join(p.capitalize() for p in noun.split("_")) + suffix
            plural = noun + "s" + (f"-v{cycle + 1}" if cycle else "")
            self.resources.append((name, f"{prefix}/{plural}", params))
        self.schemas: dict[str, Any] = {}
        self.examples: dict[str, Any] = {}
        self.alternatives: dict[str, Any] = {}

    # -- text ---------------------------------------------------------------------------------

    def sentence(self, low: int, high: int) -> str:
        words = self.rng.choices(_WORDS, k=self.rng.randint(low, high))
        return " ".join(words).capitalize() + "."

    def prose(self, sentences: int) -> str:
        return " ".join(self.sentence(8, 22) for _ in range(sentences))

    # -- schemas ------------------------------------------------------------------------------

    def build_schemas(self) -> None:
        names = [name for name, _, _ in self.resources]
        for index, name in enumerate(names):
            states = self.rng.sample(
                [
                    "open",
                    "closed",
                    "draft",
                    "active",
                    "inactive",
                    "pending",
                    "archived",
                    "queued",
                    "completed",
                    "failed",
                ],
                self.rng.randint(3, 6),
            )
            self.schemas[f"{name}State"] = {
                "type": "string",
                "description": self.sentence(6, 14),
                "enum": states,
                "example": states[0],
            }
            summary = {
                "type": "object",
                "description": self.prose(2),
                "required": ["id", "node_id", "name", "url", "state", "created_at"],
                "properties": {
                    "id": {
                        "type": "integer",
                        "format": "int64",
                        "description": "Unique id.",
                        "example": 42,
                    },
                    "node_id": {"type": "string", "example": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5"},
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 100,
                        "description": self.sentence(5, 12),
                    },
                    "url": {
                        "type": "string",
                        "format": "uri",
                        "example": f"https://api.example.com/{name.lower()}/42",
                    },
                    "html_url": {"type": "string", "format": "uri"},
                    "state": {"$ref": f"#/components/schemas/{name}State"},
                    "created_at": {
                        "type": "string",
                        "format": "date-time",
                        "example": "2011-01-26T19:01:12Z",
                    },
                },
            }
            self.schemas[f"{name}Summary"] = summary
            # Nested references to other resources: what makes real descriptions deep.
            others = [names[(index + step) % len(names)] for step in (1, 7, 31)]
            extra: dict[str, Any] = {
                "owner": {"$ref": f"#/components/schemas/{others[0]}Summary"},
                "parent": {
                    "nullable": True,
                    "allOf": [{"$ref": f"#/components/schemas/{others[1]}Summary"}],
                    "description": self.sentence(6, 12),
                },
                "related": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {"$ref": f"#/components/schemas/{others[2]}Summary"},
                },
            }
            for field_name, field_schema in self.rng.sample(_FIELD_KINDS, self.rng.randint(8, 14)):
                extra[field_name] = {**field_schema, "description": self.prose(2)}
            self.schemas[name] = {
                "description": self.prose(3),
                "allOf": [
                    {"$ref": f"#/components/schemas/{name}Summary"},
                    {"type": "object", "required": ["owner"], "properties": extra},
                ],
            }
            writable = {k: v for k, v in extra.items() if k not in ("owner", "parent", "related")}
            self.schemas[f"{name}Create"] = {
                "type": "object",
                "description": self.prose(1),
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "state": {"$ref": f"#/components/schemas/{name}State"},
                    **writable,
                },
                "additionalProperties": False,
            }
            self.schemas[f"{name}Update"] = {
                "type": "object",
                "description": self.prose(1),
                "minProperties": 1,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "state": {"$ref": f"#/components/schemas/{name}State"},
                    **writable,
                },
            }
            self.schemas[f"{name}Page"] = {
                "type": "object",
                "required": ["total_count", "items"],
                "properties": {
                    "total_count": {"type": "integer", "minimum": 0},
                    "incomplete_results": {"type": "boolean"},
                    "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                },
            }
        # Examples last: they name the states of resources defined later in the loop.
        for index, name in enumerate(names):
            others = [names[(index + step) % len(names)] for step in (1, 7, 31)]
            example = self.example_of(name, others, index)
            self.examples[name] = example
            self.alternatives[name] = {
                **example,
                "parent": self.summary_example(others[1], 5000 + index),
                "related": [
                    {**item, "id": item["id"] + offset}
                    for offset in (0, 1, 2)
                    for item in example["related"]
                ],
            }
        self.schemas["BasicError"] = {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "documentation_url": {"type": "string"},
                "url": {"type": "string"},
                "status": {"type": "string"},
            },
        }
        self.schemas["ValidationError"] = {
            "type": "object",
            "required": ["message", "documentation_url"],
            "properties": {
                "message": {"type": "string"},
                "documentation_url": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code"],
                        "properties": {
                            "resource": {"type": "string"},
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "string"},
                            "index": {"type": "integer"},
                            "value": {
                                "oneOf": [
                                    {"type": "string", "nullable": True},
                                    {"type": "integer", "nullable": True},
                                    {
                                        "type": "array",
                                        "nullable": True,
                                        "items": {"type": "string"},
                                    },
                                ]
                            },
                        },
                    },
                },
            },
        }

    def summary_example(self, name: str, ident: int) -> dict[str, Any]:
        state = self.schemas[f"{name}State"]["enum"][0]
        return {
            "id": ident,
            "node_id": f"MDEw{ident:08d}",
            "name": f"{name.lower()}-{ident}",
            "url": f"https://api.example.com/{name.lower()}/{ident}",
            "html_url": f"https://example.com/{name.lower()}/{ident}",
            "state": state,
            "created_at": "2011-01-26T19:01:12Z",
        }

    def example_of(self, name: str, others: list[str], index: int) -> dict[str, Any]:
        example = self.summary_example(name, 1000 + index)
        example["owner"] = self.summary_example(others[0], 2000 + index)
        example["parent"] = None
        example["related"] = [self.summary_example(others[2], 3000 + index)]
        properties = self.schemas[name]["allOf"][1]["properties"]
        values = {
            "description": "An example.",
            "homepage": "https://example.com",
            "email": "octocat@example.com",
            "size": 108,
            "score": 42.5,
            "is_private": False,
            "archived": False,
            "language": "Python",
            "topics": ["api", "octocat"],
            "updated_at": "2011-01-26T19:14:43Z",
            "closed_at": None,
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "color": "f29513",
            "count": 3,
            "metadata": {"team": "platform"},
            "due_on": "2012-10-09",
            "visibility": "public",
            "permissions": {"admin": False, "pull": True, "push": False},
        }
        for key in properties:
            if key in values:
                example[key] = values[key]
        return example

    # -- operations ---------------------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        return {
            "per-page": {
                "name": "per_page",
                "in": "query",
                "description": self.sentence(10, 20),
                "schema": {"type": "integer", "default": 30, "minimum": 1, "maximum": 100},
            },
            "page": {
                "name": "page",
                "in": "query",
                "description": self.sentence(6, 12),
                "schema": {"type": "integer", "default": 1, "minimum": 1},
            },
            "since": {
                "name": "since",
                "in": "query",
                "description": self.sentence(8, 16),
                "schema": {"type": "string", "format": "date-time"},
            },
            "direction": {
                "name": "direction",
                "in": "query",
                "description": "Sort direction.",
                "schema": {"type": "string", "enum": ["asc", "desc"]},
            },
            "org": {
                "name": "org",
                "in": "path",
                "required": True,
                "description": "The organization name. The name is not case sensitive.",
                "schema": {"type": "string"},
            },
            "owner": {
                "name": "owner",
                "in": "path",
                "required": True,
                "description": "The account owner of the repository.",
                "schema": {"type": "string"},
            },
            "repo": {
                "name": "repo",
                "in": "path",
                "required": True,
                "description": "The name of the repository without the .git extension.",
                "schema": {"type": "string"},
            },
        }

    def operations(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        names = [name for name, _, _ in self.resources]
        for index, (name, base, scope_params) in enumerate(self.resources):
            scoped = [{"$ref": f"#/components/parameters/{p}"} for p in scope_params]
            ident = {
                "name": "id",
                "in": "path",
                "required": True,
                "description": f"The unique identifier of the {name}.",
                "schema": {"type": "integer", "format": "int64", "minimum": 1},
            }
            ref = f"#/components/schemas/{name}"
            tag = name
            example = self.examples[name]
            alternative = self.alternatives[name]
            other = names[(index + 13) % len(names)]
            paths[base] = {
                "parameters": scoped,
                "get": self.operation(
                    f"list-{name}",
                    tag,
                    "List",
                    parameters=[
                        {"$ref": "#/components/parameters/per-page"},
                        {"$ref": "#/components/parameters/page"},
                        {"$ref": "#/components/parameters/since"},
                        {"$ref": "#/components/parameters/direction"},
                        {
                            "name": "sort",
                            "in": "query",
                            "description": self.sentence(6, 12),
                            "schema": {
                                "type": "string",
                                "enum": ["created", "updated", "name"],
                                "default": "created",
                            },
                        },
                        {
                            "name": "state",
                            "in": "query",
                            "description": self.sentence(6, 12),
                            "schema": {"$ref": f"#/components/schemas/{name}State"},
                        },
                        {
                            "name": "labels",
                            "in": "query",
                            "style": "form",
                            "explode": False,
                            "description": "A list of comma separated label names.",
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                    ],
                    responses={
                        "200": self.json_response(
                            {"$ref": f"#/components/schemas/{name}Page"},
                            {
                                "total_count": 3,
                                "incomplete_results": False,
                                "items": [example, {**example, "id": 2}, {**example, "id": 3}],
                            },
                            link_header=True,
                        )
                    },
                ),
                "post": self.operation(
                    f"create-{name}",
                    tag,
                    "Create",
                    body={"$ref": f"#/components/schemas/{name}Create"},
                    responses={
                        "201": self.json_response({"$ref": ref}, example, alternative=alternative),
                        "422": {"$ref": "#/components/responses/validation_failed"},
                    },
                ),
            }
            item = f"{base}/{{id}}"
            paths[item] = {
                "parameters": [*scoped, ident],
                "get": self.operation(
                    f"get-{name}",
                    tag,
                    "Get",
                    responses={
                        "200": self.json_response({"$ref": ref}, example, alternative=alternative),
                        "404": {"$ref": "#/components/responses/not_found"},
                    },
                ),
                "put": self.operation(
                    f"replace-{name}",
                    tag,
                    "Replace",
                    body={"$ref": f"#/components/schemas/{name}Create"},
                    responses={
                        "200": self.json_response({"$ref": ref}, example, alternative=alternative),
                        "404": {"$ref": "#/components/responses/not_found"},
                        "422": {"$ref": "#/components/responses/validation_failed"},
                    },
                ),
                "patch": self.operation(
                    f"update-{name}",
                    tag,
                    "Update",
                    body={"$ref": f"#/components/schemas/{name}Update"},
                    responses={
                        "200": self.json_response({"$ref": ref}, example, alternative=alternative),
                        "404": {"$ref": "#/components/responses/not_found"},
                        "422": {"$ref": "#/components/responses/validation_failed"},
                    },
                ),
                "delete": self.operation(
                    f"delete-{name}",
                    tag,
                    "Delete",
                    responses={
                        "204": {"description": "Response"},
                        "404": {"$ref": "#/components/responses/not_found"},
                    },
                ),
            }
            related = f"{item}/related"
            summary_list = {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{other}Summary"},
            }
            link_body = {
                "type": "object",
                "required": ["ids"],
                "properties": {
                    "ids": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 100,
                        "items": {"type": "integer", "minimum": 1},
                    }
                },
            }
            related_example = [self.summary_example(other, 4000 + index)]
            paths[related] = {
                "parameters": [*scoped, ident],
                "get": self.operation(
                    f"list-{name}-related",
                    tag,
                    "List related",
                    parameters=[
                        {"$ref": "#/components/parameters/per-page"},
                        {"$ref": "#/components/parameters/page"},
                    ],
                    responses={
                        "200": self.json_response(summary_list, related_example, link_header=True)
                    },
                ),
                "post": self.operation(
                    f"add-{name}-related",
                    tag,
                    "Add related",
                    body=link_body,
                    responses={
                        "200": self.json_response(summary_list, related_example),
                        "422": {"$ref": "#/components/responses/validation_failed"},
                    },
                ),
                "put": self.operation(
                    f"set-{name}-related",
                    tag,
                    "Set related",
                    body=link_body,
                    responses={"200": self.json_response(summary_list, related_example)},
                ),
                "delete": self.operation(
                    f"clear-{name}-related",
                    tag,
                    "Clear related",
                    responses={"204": {"description": "Response"}},
                ),
            }
        return paths

    def operation(
        self,
        operation_id: str,
        tag: str,
        verb: str,
        *,
        parameters: list[Any] | None = None,
        body: dict[str, Any] | None = None,
        responses: dict[str, Any],
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "summary": f"{verb} {tag}",
            "description": self.prose(self.rng.randint(16, 34)),
            "tags": [tag],
            "operationId": operation_id,
            "externalDocs": {
                "description": "API method documentation",
                "url": f"https://docs.example.com/rest/{tag.lower()}#{operation_id}",
            },
            "responses": {
                **responses,
                "403": {"$ref": "#/components/responses/forbidden"},
            },
            "x-github": {
                "githubCloudOnly": False,
                "enabledForGitHubApps": True,
                "category": tag.lower(),
                "subcategory": verb.lower(),
            },
        }
        if parameters:
            op["parameters"] = parameters
        if body is not None:
            sample = {"ids": [1, 2]} if body.get("required") == ["ids"] else {"name": "example"}
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": body,
                        "examples": {"default": {"value": sample}},
                    }
                },
            }
        return op

    def json_response(
        self,
        schema: dict[str, Any],
        example: Any,
        *,
        alternative: Any = None,
        link_header: bool = False,
    ) -> dict[str, Any]:
        examples: dict[str, Any] = {"default": {"value": example}}
        if alternative is not None:
            # A second, fuller example, as real descriptions show a resource in several states.
            examples["with-parent"] = {
                "summary": "With a parent and several related resources",
                "value": alternative,
            }
        response: dict[str, Any] = {
            "description": "Response",
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
        if link_header:
            response["headers"] = {"Link": {"$ref": "#/components/headers/link"}}
        return response


def build_spec(resources: int = 100, seed: int = 1) -> dict[str, Any]:
    """The description as a dict: 10 operations, 3 paths and 6 schemas per resource."""
    builder = _Builder(resources, seed)
    builder.build_schemas()
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Synthetic REST API",
            "version": "1.1.4",
            "description": builder.prose(12),
            "license": {"name": "MIT", "url": "https://spdx.org/licenses/MIT"},
        },
        "servers": [{"url": "https://api.example.com/v3"}],
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "tags": [
            {"name": name, "description": builder.sentence(6, 14)}
            for name, _, _ in builder.resources
        ],
        "paths": builder.operations(),
        "components": {
            "schemas": builder.schemas,
            "parameters": builder.parameters(),
            "responses": {
                "not_found": {
                    "description": "Resource not found",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BasicError"}}
                    },
                },
                "forbidden": {
                    "description": "Forbidden",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BasicError"}}
                    },
                },
                "validation_failed": {
                    "description": "Validation failed",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ValidationError"}
                        }
                    },
                },
            },
            "headers": {
                "link": {
                    "example": '<https://api.example.com/x?page=2>; rel="next"',
                    "schema": {"type": "string"},
                }
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }


def write_synthetic_spec(folder: Path, resources: int = 100, seed: int = 1) -> Path:
    """Write the description as pretty JSON into `folder`; return the file's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"synthetic-{resources}-{seed}.json"
    path.write_text(json.dumps(build_spec(resources, seed), indent=2) + "\n")
    return path


def describe(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    operations = sum(1 for item in document["paths"].values() for m in item if m in methods)
    return {
        "bytes": path.stat().st_size,
        "paths": len(document["paths"]),
        "operations": operations,
        "schemas": len(document["components"]["schemas"]),
        "refs": path.read_text().count('"$ref"'),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("synthetic-openapi.json"))
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(build_spec(args.resources, args.seed), indent=2) + "\n")
    facts = describe(args.out)
    print(
        f"{args.out}: {facts['bytes'] / 1e6:.1f} MB, {facts['operations']} operations, "
        f"{facts['paths']} paths, {facts['schemas']} schemas, {facts['refs']} $refs"
    )


if __name__ == "__main__":
    main()
