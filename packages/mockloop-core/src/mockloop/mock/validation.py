"""Request validation against the description: parameters, content type and body.

Statuses: 400 when the request cannot be understood (a missing required parameter, a parameter
of the wrong type, malformed JSON, a missing required body), 415 when the body's content type is
not one the operation accepts, 422 when a well-formed body breaks the schema. In `warn` mode
the problems are logged and the request is answered as if valid.

Checking a body is pure Python and grows with its size (a valid 10 MiB array of objects takes
seconds) and with the schema's (combinators re-check values): `check_async` checks a body of
`OFF_LOOP_BYTES` or more in a worker thread, one such request at a time, and checks any other
request on the event loop within `ON_LOOP_STEPS` validation steps; a check that needs more
starts over in the worker thread. So one request holds the event loop for at most about
`ON_LOOP_STEPS` steps (a few tens of milliseconds) before `/health` and other requests get
their turn; the worker thread competes with the loop for the GIL meanwhile, so it is not free.

Every check is bounded (`mockloop.spec.validation`): patterns are matched by RE2 (no
backtracking), a body that needs more validation steps than its size allows is a 422 "too
complex to check", and a body nested too deeply for the schema check is a 422 "too deep to
check", never a RecursionError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from mockloop.mock.auth import _cookies
from mockloop.mock.problem import PreparedResponse, problem
from mockloop.mock.responder import is_json_media
from mockloop.spec.model import Operation, Parameter
from mockloop.spec.params import coerce_parameter, query_values
from mockloop.spec.validation import SchemaValidator

__all__ = ["OFF_LOOP_BYTES", "ON_LOOP_STEPS", "RequestValidator"]

logger = logging.getLogger("mockloop.validation")

_MEMO_LIMIT = 10_000
OFF_LOOP_BYTES = 64 * 1024
"""Request bodies at least this large are validated in a worker thread (about 0.1 s of work)."""
ON_LOOP_STEPS = 3_000
"""Validation steps a request may take on the event loop (about 5-20 ms) before its check
starts over in a worker thread."""


class _NeedsWorker(Exception):
    """Raised when a check on the event loop needs more than `ON_LOOP_STEPS` steps."""


# Header parameters that OpenAPI says to ignore: the transport owns them.
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}


class RequestValidator:
    """Checks one request against its operation; returns a problem response or None."""

    def __init__(self, validator: SchemaValidator, mode: str = "enforce") -> None:
        self.validator = validator
        self.mode = mode
        # Clients repeat parameter values (the same id, the same page size): each distinct
        # (parameter, raw values) pair is checked by jsonschema once.
        self._checked: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        self._opaque: dict[int, bool] = {}
        # One large body parsed and checked at a time: each can take a hundred MB as objects.
        self._heavy = asyncio.Semaphore(1)

    async def check_async(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> PreparedResponse | None:
        """`check`, with a body of `OFF_LOOP_BYTES` or more, or a check that needs more than
        `ON_LOOP_STEPS` steps, done in a worker thread."""
        if len(body) < OFF_LOOP_BYTES or op.request_body is None:
            try:
                return self._check(op, path_params, query, headers, body, on_loop=True)
            except _NeedsWorker:
                pass
        async with self._heavy:
            return await asyncio.to_thread(self.check, op, path_params, query, headers, body)

    def check(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> PreparedResponse | None:
        """A problem response for a request that breaks the description, or None (always
        None in `warn` mode, which logs the problems instead)."""
        return self._check(op, path_params, query, headers, body, on_loop=False)

    def _check(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        on_loop: bool,
    ) -> PreparedResponse | None:
        found = self._problems(op, path_params, query, headers, body, on_loop)
        if found is None:
            return None
        if self.mode == "warn":
            logger.warning("%s: request invalid (warn mode): %s", op.operation_id, found.body[:500])
            return None
        return found

    def _problems(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        on_loop: bool,
    ) -> PreparedResponse | None:
        errors: list[str] = []
        query_pairs: list[tuple[str, str]] | None = None
        cookies: dict[str, str] | None = None
        for param in op.parameters:
            if param.location == "path":
                raw = [path_params[param.name]] if param.name in path_params else []
            elif param.location == "query":
                if query_pairs is None:
                    query_pairs = parse_qsl(query, keep_blank_values=True)
                raw = query_values(param, query_pairs, self.validator.document)
            elif param.location == "header":
                if param.name.lower() in _IGNORED_HEADERS:
                    continue
                value = headers.get(param.name.lower())
                raw = [value] if value is not None else []
            else:
                if cookies is None:
                    cookies = _cookies(headers.get("cookie", ""))
                raw = [cookies[param.name]] if param.name in cookies else []
            errors.extend(self._check_parameter(param, raw, on_loop))
        if errors:
            return problem(
                400,
                f"{op.operation_id}: {len(errors)} invalid parameter(s): {errors[0]}",
                title="Invalid request parameters",
                errors=errors,
            )
        return self._check_body(op, headers, body, on_loop)

    def _errors(
        self, schema: Any, value: Any, on_loop: bool, size: int | None = None, **options: Any
    ) -> list[str]:
        """The validator's errors; on the event loop, `_NeedsWorker` past `ON_LOOP_STEPS`."""
        if not on_loop:
            return self.validator.errors(schema, value, size=size, **options)
        found = self.validator.errors_within(
            schema, value, size=size, steps=ON_LOOP_STEPS, **options
        )
        if found is None:
            raise _NeedsWorker
        return found

    def _check_parameter(self, param: Parameter, raw: list[str], on_loop: bool) -> list[str]:
        if not raw:
            return (
                [f"{param.location} parameter {param.name!r} is required"] if param.required else []
            )
        if not param.schema or self._presence_only(param):
            return []
        key = (id(param), tuple(raw))
        found = self._checked.get(key)
        if found is None:
            where = f"{param.location} parameter {param.name!r}"
            value = coerce_parameter(param, raw, self.validator.document)
            found = [
                f"{where}: {message}"
                for message in self._errors(param.schema, value, on_loop, direction="request")
            ]
            if sum(len(r) for r in raw) <= 1024:
                if len(self._checked) >= _MEMO_LIMIT:
                    self._checked.clear()
                self._checked[key] = found
        return found

    def _presence_only(self, param: Parameter) -> bool:
        """True for an array of objects outside the body: OpenAPI defines no serialisation
        for it, so clients send whatever their SDK does and only presence can be checked."""
        verdict = self._opaque.get(id(param))
        if verdict is None:
            schema = self._resolve(param.schema)
            items = self._resolve(schema.get("items")) if isinstance(schema, dict) else {}
            verdict = (
                isinstance(schema, dict)
                and _types(schema) == {"array"}
                and isinstance(items, dict)
                and ("object" in _types(items) or "properties" in items)
            )
            self._opaque[id(param)] = verdict
        return verdict

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
            target: Any = self.validator.document
            for part in schema["$ref"].lstrip("#/").split("/"):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"), {})
                    if isinstance(target, dict)
                    else {}
                )
            schema, seen = target, seen + 1
        return schema

    def _check_body(
        self, op: Operation, headers: Mapping[str, str], body: bytes, on_loop: bool
    ) -> PreparedResponse | None:
        request_body = op.request_body
        if request_body is None or not request_body.content:
            return None
        if not body:
            if request_body.required:
                accepted = ", ".join(request_body.content)
                return problem(
                    400,
                    f"{op.operation_id} requires a request body ({accepted})",
                    title="Missing request body",
                )
            return None
        content_type = headers.get("content-type", "")
        media = _match_media(content_type, list(request_body.content))
        if media is None:
            accepted = ", ".join(request_body.content)
            sent = content_type or "no Content-Type"
            return problem(
                415,
                f"{op.operation_id} accepts {accepted}, not {sent}",
                title="Unsupported Media Type",
            )
        media_type = request_body.content[media]
        base = content_type.split(";", 1)[0].strip().lower()
        if not (is_json_media(base) or is_json_media(media)):
            return None  # form, multipart, XML and binary bodies are accepted as sent
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return problem(
                400, f"{op.operation_id}: the body is not valid JSON: {exc}", title="Malformed JSON"
            )
        if media_type.schema is None:
            return None
        errors = self._errors(
            media_type.schema, value, on_loop, direction="request", size=len(body)
        )
        if errors:
            return problem(
                422,
                f"{op.operation_id}: the body does not match the schema: {errors[0]}",
                title="Request body invalid",
                errors=errors[:20],
            )
        return None


def _match_media(content_type: str, documented: list[str]) -> str | None:
    sent = content_type.split(";", 1)[0].strip().lower()
    if not sent:
        # No Content-Type: accept when JSON is documented (curl -d without -H is common).
        return next((m for m in documented if is_json_media(m)), None)
    bases = [(media, media.split(";", 1)[0].strip().lower()) for media in documented]
    # The most specific documented type wins: exact, then "type/*", then "*/*".
    for media, base in bases:
        if base == sent:
            return media
    for media, base in bases:
        if base.endswith("/*") and base != "*/*" and sent.startswith(base[:-1]):
            return media
    for media, base in bases:
        if base == "*/*":
            return media
    if sent.endswith("+json") or sent == "application/json":
        return next((m for m in documented if is_json_media(m)), None)
    return None


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)} - {"null"}
    return set()
