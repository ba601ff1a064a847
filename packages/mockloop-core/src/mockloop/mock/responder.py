"""The responder: which response an operation gives, built once and cached as bytes.

Order per request (after routing, auth and validation have passed): a rule in force (response
override, then the active scenario) -> the `Prefer` header (`code=`, `example=`, `dynamic=`) ->
a valid named or inline example -> data generated from the schema (stable for the same path
parameters) -> an empty body with the documented status. Examples that do not validate against
their schema are skipped (real descriptions have many) unless asked for by name.

Bodies are bounded by `max_bytes` (`MockConfig.max_response_bytes`, 1 MiB by default): data is
generated within it (the faker carries a byte budget), a documented example larger than it is
replaced by generated data (asked for by name, it is answered with a 422 problem), and each
operation whose body had to be cut is logged once. Cached bodies are bounded in total too.
`respond_async` builds a body not cached yet in a worker thread, so generating (or checking a
large example) leaves the event loop free to answer, sharing the GIL with it. Example checks
are bounded in validation steps (`mockloop.spec.validation.WorkBudget`): an example whose
check needs more is taken as valid, logged once, so a hostile description cannot hold a
worker thread for long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any, Protocol
from xml.sax.saxutils import escape as xml_escape

import orjson

from mockloop.fake import SchemaFaker
from mockloop.fake.budget import json_size
from mockloop.mock.problem import PreparedResponse, problem
from mockloop.spec.model import ApiSpec, Example, MediaType, Operation, Response
from mockloop.spec.validation import SchemaValidator

__all__ = ["Responder", "default_status", "parse_prefer"]

_SKIPPED_HEADERS = {"content-type", "content-length", "transfer-encoding", "connection"}
_CACHE_LIMIT = 20_000
_CACHE_BYTES = 64 * 1024 * 1024  # bodies kept for reuse, in total
_KEY_MEMO_LIMIT = 4096  # (operation, Accept) pairs whose cache key is remembered
_HEADER_BYTES = 4096  # a generated or documented response header value, at most

logger = logging.getLogger("mockloop.mock.responder")


class ResponseSpec(Protocol):
    """What a rule in force says to answer (a scenario rule's `response`, an override).

    `mockloop.mock.scenarios.rules.ResponseSpec` is the model; the responder reads only these
    fields, so it stays below the scenarios that use it.
    """

    status: int | None
    body: Any
    example: str | None
    generate: bool
    headers: dict[str, str]
    has_body: bool


def default_status(op: Operation) -> str:
    """The documented success status key: the lowest 2xx, else `2XX`/`default`, else the first."""
    codes = [code for code in op.responses if code.isdigit() and code.startswith("2")]
    if codes:
        return min(codes)
    for key in ("2XX", "2xx", "default"):
        if key in op.responses:
            return key
    return next(iter(op.responses), "200")


def status_number(key: str) -> int:
    if key.isdigit():
        return int(key)
    if len(key) == 3 and key[0].isdigit():
        return int(key[0]) * 100
    return 200


def parse_prefer(value: str) -> dict[str, str]:
    """`code=404, example=fluffy; dynamic=true` -> {"code": "404", ...}."""
    prefs: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        name, sep, val = part.strip().partition("=")
        if sep and name:
            prefs[name.strip().lower()] = val.strip().strip('"')
    return prefs


def is_json_media(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base in ("application/json", "text/json", "*/*") or base.endswith("+json")


def _negotiate(content: Mapping[str, MediaType], accept: str | None) -> str | None:
    if not content:
        return None
    media_types = list(content)
    if accept:
        ranges = []
        for position, item in enumerate(accept.split(",")):
            media, _, params = item.strip().partition(";")
            quality = 1.0
            for param in params.split(";"):
                key, _, val = param.strip().partition("=")
                if key == "q":
                    try:
                        quality = float(val)
                    except ValueError:
                        quality = 0.0
            if media and quality > 0:
                ranges.append((-quality, position, media.strip().lower()))
        for _, _, wanted in sorted(ranges):
            if wanted == "*/*":
                break
            for media in media_types:
                base = media.split(";", 1)[0].strip().lower()
                if base == wanted or (wanted.endswith("/*") and base.startswith(wanted[:-1])):
                    return media
    for media in media_types:
        if is_json_media(media):
            return media
    return media_types[0]


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME_INVALID = re.compile(r"[^A-Za-z0-9_.-]")


def _xml_tag(name: str) -> str:
    tag = _XML_NAME_INVALID.sub("_", name) or "item"
    return tag if tag[0].isalpha() or tag[0] == "_" else f"_{tag}"


def _to_xml(value: Any, tag: str) -> str:
    tag = _xml_tag(tag)
    if isinstance(value, dict):
        inner = "".join(_to_xml(v, str(k)) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_to_xml(v, "item") for v in value)
    elif value is None:
        inner = ""
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = xml_escape(_XML_INVALID.sub("\ufffd", str(value)))
    return f"<{tag}>{inner}</{tag}>"


def encode_body(value: Any, media: str) -> bytes:
    """Serialise a value for a media type (JSON unless the type says otherwise)."""
    base = media.split(";", 1)[0].strip().lower()
    if is_json_media(base):
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            # A value orjson refuses (a lone surrogate in a description's example, say) is
            # served with the offending characters replaced rather than failing the request.
            return json.dumps(value, default=str, ensure_ascii=False).encode("utf-8", "replace")
    if isinstance(value, bytes):
        return value
    if base.endswith("/xml") or base.endswith("+xml"):
        return ('<?xml version="1.0" encoding="UTF-8"?>' + _to_xml(value, "root")).encode()
    if base == "application/x-www-form-urlencoded" and isinstance(value, dict):
        from urllib.parse import urlencode

        return urlencode(
            {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
        ).encode()
    if isinstance(value, str):
        return value.encode()
    if base.startswith("text/"):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if value is None:
        return b""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(header_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{header_text(v)}" for k, v in value.items())
    if value is None:
        return ""
    return str(value)


class Responder:
    """Builds responses for operations; generated bodies are cached per path-parameter key."""

    def __init__(
        self,
        spec: ApiSpec,
        faker: SchemaFaker,
        validator: SchemaValidator,
        *,
        max_bytes: int | None = None,
    ) -> None:
        self.spec = spec
        self.faker = faker
        self.validator = validator
        self.max_bytes = max_bytes if max_bytes is not None else faker.max_bytes
        self._cut_logged: set[str] = set()
        self._cache: dict[tuple[Any, ...], PreparedResponse] = {}
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()  # bodies are built in worker threads too
        self._valid_examples: dict[tuple[str, str, str], Example | None] = {}
        self._defaults = {op.operation_id: default_status(op) for op in spec.operations}
        # (operation id, Accept) -> the cache key's first part: the hot path's lookups skip
        # negotiating the same Accept again. Event-loop only; cleared when full.
        self._key_memo: dict[tuple[str, str | None], tuple[Any, ...]] = {}

    # -- public -----------------------------------------------------------------------------

    def respond(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        *,
        accept: str | None = None,
        prefer: str | None = None,
        rule: ResponseSpec | None = None,
        scenario: str | None = None,
    ) -> PreparedResponse:
        """The response for one call of `op` under an optional rule and `Prefer` header."""
        if rule is not None:
            return self._from_rule(op, path_params, rule, accept, scenario)
        if prefer:
            prefs = parse_prefer(prefer)
            if prefs:
                return self._from_prefer(op, path_params, prefs, accept)
        return self._documented(op, self._defaults[op.operation_id], path_params, accept)

    async def respond_async(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        *,
        accept: str | None = None,
        prefer: str | None = None,
    ) -> PreparedResponse:
        """`respond` without a rule: a cached body at once, any other built in a worker thread
        (generating a large body or checking a large example takes long enough to delay
        every other request on the event loop)."""
        if not prefer:
            memo = self._key_memo
            key = memo.get((op.operation_id, accept))
            if key is None:
                status_key = self._defaults[op.operation_id]
                response = self._response_for(op, status_key)
                media = _negotiate(response.content, accept) if response is not None else None
                key = (op.operation_id, status_number(status_key), media, None)
                if len(memo) >= _KEY_MEMO_LIMIT:
                    memo.clear()
                memo[op.operation_id, accept] = key
            cached = self._cache.get((*key, tuple(sorted(path_params.items()))))
            if cached is not None:
                return cached
        return await asyncio.to_thread(self.respond, op, path_params, accept=accept, prefer=prefer)

    # -- sources ----------------------------------------------------------------------------

    def _from_rule(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        rule: ResponseSpec,
        accept: str | None,
        scenario: str | None,
    ) -> PreparedResponse:
        status_key = (
            str(rule.status) if rule.status is not None else self._defaults[op.operation_id]
        )
        status = status_number(status_key)
        response = self._response_for(op, status_key)
        media = _negotiate(response.content, accept) if response is not None else None
        if rule.has_body and json_size(rule.body, self.max_bytes) > self.max_bytes:
            label = f"scenario {scenario!r}" if scenario else "a response override"
            prepared = problem(
                500,
                f"the body set by {label} for {op.operation_id} is larger than the mock's "
                f"limit of {self.max_bytes} bytes (raise it with --max-response-size)",
                title="Response too large",
            )
            prepared.source = "scenario"
        elif rule.has_body:
            media = media or "application/json"
            prepared = PreparedResponse(
                status,
                self._headers(op, response, media, path_params),
                encode_body(rule.body, media),
                source="scenario",
            )
        elif response is None:
            if status >= 400:
                label = f"scenario {scenario!r}" if scenario else "a response override"
                prepared = problem(status, f"simulated by {label} for {op.operation_id}")
                prepared.source = "scenario"
            else:
                prepared = PreparedResponse(status, [], b"", source="scenario")
        else:
            prepared = self._documented(
                op, status_key, path_params, accept, example=rule.example, dynamic=rule.generate
            )
            if prepared.status == 422 and rule.example is not None and status != 422:
                # The rule names an example the description lacks: say so, with its own
                # status, rather than serve the problem under the rule's (success) status.
                return prepared
            if prepared.status != status:
                prepared = PreparedResponse(
                    status, prepared.headers, prepared.body, source="scenario"
                )
        extra = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in rule.headers.items()
        ]
        if extra or prepared.source != "scenario":
            replaced = {name for name, _ in extra}
            headers = [h for h in prepared.headers if h[0] not in replaced] + extra
            prepared = PreparedResponse(prepared.status, headers, prepared.body, source="scenario")
        return prepared

    def _from_prefer(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        prefs: dict[str, str],
        accept: str | None,
    ) -> PreparedResponse:
        status_key = self._defaults[op.operation_id]
        if "code" in prefs:
            wanted = prefs["code"]
            if not (wanted.isdigit() and self._response_for(op, wanted) is not None):
                documented = ", ".join(op.responses) or "none"
                return problem(
                    422,
                    f"Prefer: code={wanted} names no documented response of {op.operation_id} "
                    f"(documented: {documented})",
                    title="Unsupported Prefer header",
                )
            status_key = wanted
        dynamic = prefs.get("dynamic", "").lower() in ("true", "1", "yes")
        return self._documented(
            op, status_key, path_params, accept, example=prefs.get("example"), dynamic=dynamic
        )

    def _documented(
        self,
        op: Operation,
        status_key: str,
        path_params: Mapping[str, str],
        accept: str | None,
        *,
        example: str | None = None,
        dynamic: bool = False,
    ) -> PreparedResponse:
        response = self._response_for(op, status_key)
        status = status_number(status_key)
        media = _negotiate(response.content, accept) if response is not None else None
        cache_key = None
        if not dynamic:
            cache_key = (
                op.operation_id,
                status,
                media,
                example,
                tuple(sorted(path_params.items())),
            )
            cached = self._cache.get(cache_key)
            if cached is not None:
                return cached
        if response is None or media is None:
            source = "empty"
            body = b""
        else:
            media_type = response.content[media]
            value, source = self._body_value(
                op, status_key, media_type, path_params, example, dynamic
            )
            if source == "missing-example":
                names = ", ".join(e.name for e in media_type.examples) or "none"
                return problem(
                    422,
                    f"{op.operation_id} has no example named {example!r} for status "
                    f"{status_key} {media} (examples: {names})",
                    title="Unknown example",
                )
            if source == "large-example":
                return problem(
                    422,
                    f"example {example!r} of {op.operation_id} (status {status_key} {media}) is "
                    f"larger than the mock's limit of {self.max_bytes} bytes (raise it with "
                    "--max-response-size)",
                    title="Example too large",
                )
            body = b"" if source == "empty" else encode_body(value, media)
            if len(body) > self.max_bytes:  # escapes or XML tags made it larger than counted
                if media_type.schema is None:
                    return problem(
                        500,
                        f"the documented body of {op.operation_id} is larger than the mock's "
                        f"limit of {self.max_bytes} bytes (raise it with --max-response-size)",
                        title="Response too large",
                    )
                body = self._shrunk(op, media_type, media, path_params, dynamic, len(body))
                source = "generated"
        prepared = PreparedResponse(
            status, self._headers(op, response, media, path_params), body, source=source
        )
        if cache_key is not None:
            with self._cache_lock:
                while self._cache and (
                    len(self._cache) >= _CACHE_LIMIT or self._cache_bytes + len(body) > _CACHE_BYTES
                ):
                    self._cache_bytes -= len(self._cache.pop(next(iter(self._cache))).body)
                if cache_key not in self._cache:
                    self._cache[cache_key] = prepared
                    self._cache_bytes += len(body)
        return prepared

    # -- pieces -----------------------------------------------------------------------------

    def _response_for(self, op: Operation, status_key: str) -> Response | None:
        responses = op.responses
        found = responses.get(status_key)
        if found is None and status_key.isdigit():
            found = responses.get(f"{status_key[0]}XX") or responses.get(f"{status_key[0]}xx")
            if found is None:
                found = responses.get("default")
        return found

    def _body_value(
        self,
        op: Operation,
        status_key: str,
        media_type: MediaType,
        path_params: Mapping[str, str],
        example: str | None,
        dynamic: bool,
    ) -> tuple[Any, str]:
        if example is not None:
            for candidate in media_type.examples:
                if candidate.name == example:
                    if json_size(candidate.value, self.max_bytes) > self.max_bytes:
                        return None, "large-example"
                    return candidate.value, "example"
            return None, "missing-example"
        if not dynamic:
            chosen = self._valid_example(op, status_key, media_type)
            if chosen is not None:
                return chosen.value, "example"
        if media_type.schema is None:
            return None, "empty"
        return self._generated(op, media_type, path_params, dynamic, self.max_bytes), "generated"

    def _generated(
        self,
        op: Operation,
        media_type: MediaType,
        path_params: Mapping[str, str],
        dynamic: bool,
        max_bytes: int,
    ) -> Any:
        key = op.operation_id + "|" + "|".join(f"{k}={v}" for k, v in sorted(path_params.items()))
        if dynamic:
            key += "|" + secrets.token_hex(8)
        value, cut = self.faker.generate_within(
            media_type.schema, key=key, for_response=True, max_bytes=max_bytes
        )
        if cut:
            self._log_cut(op, "generated data shortened to fit")
        return value

    def _shrunk(
        self,
        op: Operation,
        media_type: MediaType,
        media: str,
        path_params: Mapping[str, str],
        dynamic: bool,
        size: int,
    ) -> bytes:
        """A body within the bound for a schema whose generated body came out larger (the
        budget is counted as compact JSON; escapes and XML tags take more)."""
        budget = self.max_bytes
        for _ in range(3):
            budget = budget * self.max_bytes // (size * 2)
            body = encode_body(self._generated(op, media_type, path_params, dynamic, budget), media)
            if len(body) <= self.max_bytes:
                self._log_cut(op, "generated data shortened to fit")
                return body
            size = len(body)
        return encode_body(self._generated(op, media_type, path_params, dynamic, 0), media)

    def _log_cut(self, op: Operation, what: str) -> None:
        if op.operation_id not in self._cut_logged:
            self._cut_logged.add(op.operation_id)
            logger.warning(
                "%s: response body cut to the limit of %s bytes (%s; raise it with "
                "--max-response-size)",
                op.operation_id,
                self.max_bytes,
                what,
            )

    def _valid_example(
        self, op: Operation, status_key: str, media_type: MediaType
    ) -> Example | None:
        cache_key = (op.operation_id, status_key, media_type.media_type)
        if cache_key in self._valid_examples:
            return self._valid_examples[cache_key]
        chosen = None
        for candidate in media_type.examples:
            size = json_size(candidate.value, self.max_bytes)
            if size > self.max_bytes:
                # Never served whole, and never validated (that would walk all of it).
                self._log_cut(op, f"example {candidate.name!r} replaced by generated data")
                continue
            if media_type.schema is None or not self.validator.errors(
                media_type.schema, candidate.value, limit=1, size=size
            ):
                chosen = candidate
                break
        self._valid_examples[cache_key] = chosen
        return chosen

    def _headers(
        self,
        op: Operation,
        response: Response | None,
        media: str | None,
        path_params: Mapping[str, str],
    ) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        if media is not None:
            content_type = media if media != "*/*" else "application/json"
            headers.append((b"content-type", content_type.encode("latin-1")))
        if response is None:
            return headers
        for name, header in response.headers.items():
            if name.lower() in _SKIPPED_HEADERS:
                continue
            value: Any = None
            for candidate in header.examples:
                if json_size(candidate.value, _HEADER_BYTES) <= _HEADER_BYTES and (
                    self.validator.is_valid(header.schema, candidate.value)
                ):
                    value = candidate.value
                    break
            if value is None:
                value, _ = self.faker.generate_within(
                    header.schema or {"type": "string"},
                    key=f"{op.operation_id}|header|{name}",
                    field_name=name,
                    max_bytes=_HEADER_BYTES,
                )
            text = header_text(value)[: _HEADER_BYTES * 2]
            try:
                encoded = text.encode("latin-1")
            except UnicodeEncodeError:
                encoded = text.encode("ascii", "replace")
            if b"\r" in encoded or b"\n" in encoded:
                continue
            headers.append((name.lower().encode("latin-1"), encoded))
        return headers
