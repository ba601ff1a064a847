"""Validating values against the schemas of a loaded description.

Schemas of the model are JSON Schema 2020-12 whose `$ref`s point into `ApiSpec.document`; the
document is registered once and every validator resolves against it. Validators are compiled
once per schema object. A schema jsonschema cannot use (a bad regex, say) never raises: it
validates nothing and the failure is remembered.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SchemaValidator"]

_DOC_URI = "urn:mockloop:document"
_MISSING = re.compile(r"^'(.+)' is a required property$")


def _marked_properties(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of properties marked readOnly / writeOnly anywhere in the document's schemas."""
    read_only: set[str] = set()
    write_only: set[str] = set()
    stack: list[Any] = [
        document.get("components", {}).get("schemas", {}),
        document.get("paths", {}),
    ]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                for name, sub in properties.items():
                    if isinstance(sub, dict):
                        if sub.get("readOnly") is True:
                            read_only.add(name)
                        if sub.get("writeOnly") is True:
                            write_only.add(name)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return read_only, write_only


class SchemaValidator:
    """Validates instances against schemas of one normalised document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(_DOC_URI, resource)
        self._validators: dict[int, tuple[Any, Draft202012Validator | None]] = {}
        self._marked: tuple[set[str], set[str]] | None = None
        self.broken: dict[int, str] = {}

    def _validator(self, schema: Any) -> Draft202012Validator | None:
        entry = self._validators.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        validator: Draft202012Validator | None
        try:
            validator = Draft202012Validator(
                schema,
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
                # Resolve `#/...` against the whole document, not the schema alone.
                _resolver=self._registry.resolver(base_uri=_DOC_URI),  # pyright: ignore[reportCallIssue]
            )
        except Exception as exc:  # an unusable schema validates nothing
            self.broken[id(schema)] = f"{type(exc).__name__}: {exc}"
            validator = None
        self._validators[id(schema)] = (schema, validator)
        return validator

    def errors(
        self,
        schema: Any,
        instance: Any,
        *,
        direction: Literal["request", "response", "any"] = "any",
        limit: int = 50,
    ) -> list[str]:
        """Messages for each way `instance` breaks `schema`, each naming the JSON path.

        `direction="request"` forgives missing readOnly properties, `"response"` missing
        writeOnly ones: OpenAPI says a client does not send the first and a server does not
        return the second, even where a schema lists them as required.
        """
        validator = self._validator(schema)
        if validator is None:
            return []
        messages: list[str] = []
        try:
            for error in validator.iter_errors(instance):
                if error.validator == "required" and direction != "any":
                    found = _MISSING.match(error.message)
                    if found and self._forgiven(found.group(1), direction):
                        continue
                messages.append(f"{error.json_path}: {error.message}")
                if len(messages) >= limit:
                    break
        except Exception as exc:  # a bad pattern or type deep inside: skip this schema
            self.broken[id(schema)] = f"{type(exc).__name__}: {exc}"
            return []
        return messages

    def is_valid(
        self,
        schema: Any,
        instance: Any,
        *,
        direction: Literal["request", "response", "any"] = "any",
    ) -> bool:
        return not self.errors(schema, instance, direction=direction, limit=1)

    def _forgiven(self, name: str, direction: str) -> bool:
        if self._marked is None:
            self._marked = _marked_properties(self.document)
        read_only, write_only = self._marked
        return name in (read_only if direction == "request" else write_only)
