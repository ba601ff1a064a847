"""The API under test as the probes see it: its base URL, its operations (from the
description, when there is one), the principals to act as, and how to build a legitimate
request for an operation that a probe then tampers with."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mockloop.security.identities import Identity
from mockloop.security.runner import Exchange, ProbeClient
from mockloop.spec import ApiSpec, Operation, Parameter

__all__ = ["PLACEHOLDER_URL", "BuiltRequest", "SecurityTarget", "op_label"]

_MAX_DEREF = 20
#: What generated URLs become: the discard port of the target's own loopback, where nothing
#: listens, so a server that fetches it fails fast and reaches nobody.
PLACEHOLDER_URL = "http://127.0.0.1:9/mockloop-placeholder"
_ABSOLUTE_URL = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://")


def op_label(op: Operation) -> str:
    """ "GET /users/{id}"."""
    return f"{op.method.upper()} {op.path}"


@dataclass(slots=True)
class BuiltRequest:
    """A legitimate request for one operation, before a probe changes it."""

    method: str
    url: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class SecurityTarget:
    """The base URL, the description's operations and the principals."""

    def __init__(
        self,
        base_url: str,
        spec: ApiSpec | None,
        users: list[Identity],
        admin: Identity | None,
        http: ProbeClient,
    ) -> None:
        self.base_url = base_url
        self.spec = spec
        self.users = users
        self.admin = admin
        self.http = http
        self.spec_url: str | None = None
        self._faker: Any = None
        self._not_found: Exchange | None = None
        self._templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "$"), op)
            for op in (spec.operations if spec else [])
            if "#" not in op.path
        ]

    # -- the description ----------------------------------------------------------------------

    @property
    def operations(self) -> list[Operation]:
        """Every probe-able operation of the description (none without one)."""
        return [op for _, op in self._templates]

    @property
    def user(self) -> Identity | None:
        """The first non-admin principal, if any was given."""
        return next((u for u in self.users if not u.is_admin), None)

    def documented(self, path: str, method: str | None = None) -> bool:
        """Whether a concrete path (and method) is in the description, with or without the
        base path of its servers (a server may serve both)."""
        base = self.spec.base_path.rstrip("/") if self.spec else ""
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :] or "/"
        for pattern, op in self._templates:
            if pattern.match(path) and (method is None or op.method.upper() == method.upper()):
                return True
        return False

    def requires_auth(self, op: Operation) -> bool:
        """Whether the description requires credentials for it (no anonymous alternative)."""
        return bool(op.security) and all(req for req in op.security)

    def deref(self, schema: Any) -> dict[str, Any]:
        """A schema with local `$ref`s followed and `allOf` properties merged (shallow)."""
        doc = self.spec.document if self.spec else {}
        for _ in range(_MAX_DEREF):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return {}
            node: Any = doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node.get(part) if isinstance(node, dict) else None
            schema = node
        if not isinstance(schema, dict):
            return {}
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            props = dict(merged.get("properties", {}))
            for part in schema["allOf"]:
                props.update(self.deref(part).get("properties", {}))
            merged["properties"] = props
            return merged
        return schema

    def request_schema(self, op: Operation) -> dict[str, Any] | None:
        """The JSON request body schema, dereferenced."""
        if op.request_body is None:
            return None
        for media_type, media in op.request_body.content.items():
            if "json" in media_type and media.schema is not None:
                return self.deref(media.schema)
        return None

    def response_schema(self, op: Operation, status: int) -> dict[str, Any] | None:
        """The documented JSON schema of a response status (or its 2XX/default entry)."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            response = op.responses.get(key)
            if response is None:
                continue
            for media_type, media in response.content.items():
                if "json" in media_type and media.schema is not None:
                    return self.deref(media.schema)
            return None
        return None

    def generate(self, schema: Any, key: str, field_name: str | None = None) -> Any:
        """A valid, deterministic value for a request schema, its URLs made harmless."""
        if self.spec is None:
            return None
        if self._faker is None:
            from mockloop.fake import SchemaFaker

            self._faker = SchemaFaker(self.spec.document, seed=7)
        value = self._faker.generate(schema, key=key, field_name=field_name, for_response=False)
        return _defuse(value)

    # -- building requests ----------------------------------------------------------------------

    def credentials(self, identity: Identity | None) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, query) that carry an identity's credentials."""
        if identity is None:
            return {}, {}
        return dict(identity.headers), dict(identity.query)

    def param_value(self, op: Operation, param: Parameter, identity: Identity | None) -> str:
        """A legitimate value for a parameter: the principal's own id, an example, generated."""
        if identity is not None and param.name in identity.ids:
            return identity.ids[param.name]
        for example in param.examples:
            if example.value is not None:
                return _text(_defuse(example.value))
        schema = self.deref(param.schema)
        if "default" in schema:
            return _text(_defuse(schema["default"]))
        value = self.generate(param.schema, f"{op.operation_id}:{param.name}", param.name)
        return _text(value)

    def build(
        self,
        op: Operation,
        identity: Identity | None,
        *,
        values: dict[str, str] | None = None,
        with_body: bool = True,
    ) -> BuiltRequest:
        """The legitimate request for `op` as `identity` (values override parameters)."""
        values = values or {}
        path = op.path
        query: dict[str, str] = {}
        headers, cred_query = self.credentials(identity)
        for param in op.parameters:
            if param.location not in ("path", "query", "header"):
                continue
            if param.location != "path" and not param.required and param.name not in values:
                continue
            value = values.get(param.name) or self.param_value(op, param, identity)
            if param.location == "path":
                path = path.replace("{" + param.name + "}", quote(value, safe=""))
            elif param.location == "query":
                query[param.name] = value
            elif param.name.lower() not in {h.lower() for h in headers}:
                headers[param.name] = value
        query.update(cred_query)
        body = None
        if with_body:
            schema = self.request_schema(op)
            if schema is not None:
                body = self.generate(schema, f"{op.operation_id}:body")
        return BuiltRequest(op.method.upper(), self.base_url + path, path, query, headers, body)

    def build_path(self, method: str, path: str, identity: Identity | None) -> BuiltRequest:
        """A request for a path of the base URL that the description may not know."""
        headers, query = self.credentials(identity)
        return BuiltRequest(method, self.base_url + path, path, query, headers, None)

    async def send(self, built: BuiltRequest, **overrides: Any) -> Exchange:
        """Send a built request; keyword overrides replace its parts (headers, query, body)."""
        headers = overrides.pop("headers", built.headers)
        query = overrides.pop("query", built.query)
        url = overrides.pop("url", built.url)
        method = overrides.pop("method", built.method)
        if "content" in overrides:
            return await self.http.send(
                method, url, headers=headers, params=query or None, **overrides
            )
        body = overrides.pop("body", built.body)
        return await self.http.send(
            method, url, headers=headers, params=query or None, json_body=body, **overrides
        )

    async def get(self, path: str, identity: Identity | None = None, **kw: Any) -> Exchange:
        """GET a path of the base URL, as an identity."""
        headers, query = self.credentials(identity)
        headers.update(kw.pop("headers", {}))
        return await self.http.send(
            kw.pop("method", "GET"),
            self.base_url + path,
            headers=headers,
            params=query or None,
            **kw,
        )

    # -- telling real answers from catch-alls ----------------------------------------------------

    async def not_found(self) -> Exchange:
        """The answer to a path that cannot exist (fetched once): what 'nothing here' looks
        like on this server, so that catch-all routes are not mistaken for real ones."""
        if self._not_found is None:
            path = f"/mockloop-nonexistent-{secrets.token_hex(6)}"
            self._not_found = await self.get(path, self.user)
        return self._not_found

    async def is_real(self, exchange: Exchange) -> bool:
        """A 2xx answer that is not what the server says for a path that cannot exist."""
        if not exchange.ok:
            return False
        nothing = await self.not_found()
        if not nothing.ok:
            return True
        return _shape(exchange.text) != _shape(nothing.text)


def _defuse(value: Any, depth: int = 0) -> Any:
    """Generated data with every absolute URL replaced by `PLACEHOLDER_URL`: a legitimate
    request must never make the target fetch a real host someone else owns (a server that
    fetches URLs would otherwise be sent to the internet by the baseline itself)."""
    if depth > 20:
        return value
    if isinstance(value, str) and _ABSOLUTE_URL.match(value):
        return PLACEHOLDER_URL
    if isinstance(value, dict):
        return {k: _defuse(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_defuse(v, depth + 1) for v in value]
    return value


def _shape(text: str) -> str:
    """A body with digits and hex runs folded, to compare pages that differ only in ids."""
    return re.sub(r"[0-9a-f]{6,}|\d+", "#", text)[:2000]
