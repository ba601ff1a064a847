"""Record and replay: live exchanges captured into a scenario, and served back from it.

A recording keeps each proxied exchange (method, path, query, status, the response's safe
headers and body) with secrets stripped: the auth's own credential values wherever they
appear (the served body already lost them), secret-named headers such as Set-Cookie, and the
values of secret query parameters (`Redactor.is_secret`). Beyond that only the shared
redaction's high-confidence rules apply, those that never change ordinary data: URL user-info
passwords and well-known token shapes (JWT, `sk-...`, `ghp_...`, `AKIA...`) in the path, the
query, header values and the body, and `Bearer`/`Basic`/`Token`/`Digest` credentials in header
values. No body field is redacted by its name and numbers and booleans are never touched, so
`next_page_token`, `total_tokens`, `business_name` and a `Link: ...?page_token=` header replay
as the client saw them. Replay keys never redact the parameter-only names (`code`, `auth`):
`?code=US` and `?code=FR` stay two keys.

Stopping turns the recording into a normal scenario: one rule per operation (the recorded
responses in order, as a `sequence` that stays on the last one) plus the exact exchanges in
`metadata.recording`, which replay mode serves by method, path and query. A recorded query
value holding "[REDACTED]" matches any value in its place, so a recording keeps matching when
the redaction rules that wrote it differ from today's.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from mockloop.http_response import PreparedResponse
from mockloop.redaction import REDACTED, SECRET_HEADERS, Redactor

__all__ = ["ExchangeRecorder", "ReplayIndex", "replay_key"]

_MAX_EXCHANGES = 10_000
_KEEP_HEADERS_SKIP = frozenset(
    {"date", "server", "content-length", "connection", "keep-alive", "transfer-encoding"}
)


def replay_key(method: str, path: str, query: str, redactor: Redactor) -> str:
    """The lookup key of a request: method, path and sorted query with secrets redacted (the
    recording rules: `Redactor.path` and `Redactor.recording_query`)."""
    return _key(method, redactor.path(path), _sorted_query(query, redactor))


def _sorted_query(query: str, redactor: Redactor) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return redactor.recording_query(urlencode(pairs)) if pairs else ""


def _key(method: str, path: str, query: str) -> str:
    return f"{method.upper()} {path}?{query}"


def _split_key(key: str) -> tuple[str, list[tuple[str, str]]]:
    """A replay key's "METHOD path" and its query pairs, in the key's order."""
    head, _, query = key.partition("?")
    return head, parse_qsl(query, keep_blank_values=True)


def _value_matches(recorded: str, value: str) -> bool:
    """Whether a request's query value fits a recorded one: equal, or equal where the recorded
    value is not "[REDACTED]" (which stands for any text)."""
    if recorded == value:
        return True
    if REDACTED not in recorded:
        return False
    pattern = ".*".join(re.escape(part) for part in recorded.split(REDACTED))
    return re.fullmatch(pattern, value, re.DOTALL) is not None


def _body_digest(body: bytes) -> str | None:
    return hashlib.sha256(body).hexdigest()[:16] if body else None


@dataclass
class ExchangeRecorder:
    """Collects exchanges while a recording runs (thread-safe, bounded)."""

    scenario_name: str
    target_url: str
    scrub: Callable[[bytes], bytes]
    redactor: Redactor = field(default_factory=Redactor)
    started_at: float = field(default_factory=time.time)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def capture(
        self,
        *,
        method: str,
        path: str,
        query: str,
        operation_id: str | None,
        request_body: bytes,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Keep one exchange (secrets stripped)."""
        kept: dict[str, str] = {}
        content_type = ""
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1").lower()
            if name in _KEEP_HEADERS_SKIP or name in SECRET_HEADERS:
                continue
            if name.startswith("x-mockloop") or self.redactor.is_secret(name):
                continue
            value = self.redactor.credentials(self.scrub(raw_value).decode("latin-1"))
            if name == "content-type":
                content_type = value
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
        clean = self.scrub(body)
        entry: dict[str, Any] = {
            "method": method.upper(),
            "path": self.redactor.path(path),
            "query": self.redactor.recording_query(query),
            "key": replay_key(method, path, query, self.redactor),
            "request_body_sha": _body_digest(request_body),
            "operation_id": operation_id,
            "status": status,
            "headers": kept,
            "recorded_at": time.time(),
        }
        parsed = _json(clean, content_type)
        if parsed is not _NOT_JSON:
            entry["body"] = (
                self.redactor.recording_value(parsed)
                if self.redactor.may_hold_secrets(clean)
                else parsed
            )
        else:
            text = clean.decode("utf-8", errors="replace")
            entry["body_text"] = (
                self.redactor.token_shapes(text) if self.redactor.may_hold_secrets(clean) else text
            )
        with self._lock:
            if len(self.exchanges) >= _MAX_EXCHANGES:
                self.dropped += 1
                return
            self.exchanges.append(entry)

    def count(self) -> int:
        with self._lock:
            return len(self.exchanges)

    def to_scenario(self, description: str | None = None) -> dict[str, Any]:
        """The recording as a scenario: rules per operation plus the exact exchanges."""
        with self._lock:
            exchanges = list(self.exchanges)
        by_operation: dict[str, list[dict[str, Any]]] = {}
        for entry in exchanges:
            if entry["operation_id"]:
                by_operation.setdefault(entry["operation_id"], []).append(entry)
        rules = []
        for operation_id, entries in by_operation.items():
            responses = [_rule_response(entry) for entry in entries]
            if len(responses) == 1:
                rules.append({"operation": operation_id, **responses[0]})
            else:
                rules.append(
                    {
                        "operation": operation_id,
                        "sequence": responses,
                        "sequence_end": "repeat_last",
                    }
                )
        return {
            "name": self.scenario_name,
            "description": description
            or f"recorded from {self.target_url}: {len(exchanges)} exchange(s) of "
            f"{len(by_operation)} operation(s)",
            "rules": rules,
            "metadata": {
                "recording": {
                    "target_url": self.target_url,
                    "started_at": self.started_at,
                    "stopped_at": time.time(),
                    "exchanges": exchanges,
                    "dropped": self.dropped,
                }
            },
        }


_NOT_JSON = object()


def _json(body: bytes, content_type: str) -> Any:
    if not body:
        return _NOT_JSON
    if "json" not in content_type.lower() and body[:1] not in (b"{", b"["):
        return _NOT_JSON
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _rule_response(entry: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"status": entry["status"], "headers": dict(entry["headers"])}
    if "body" in entry:
        response["body"] = entry["body"]
    elif entry.get("body_text"):
        response["body"] = entry["body_text"]
    return response


class ReplayIndex:
    """Recorded exchanges by request key; repeated requests get the recorded answers in
    order, then the last one again."""

    def __init__(self, scenario_name: str, exchanges: list[dict[str, Any]]) -> None:
        self.scenario_name = scenario_name
        self.redactor = Redactor()
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._by_body: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        # Keys holding "[REDACTED]" by "METHOD path": looked through when no key is equal.
        self._wildcards: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}
        for entry in exchanges:
            key = str(entry.get("key", ""))
            if key not in self._by_key and REDACTED in key:
                head, pairs = _split_key(key)
                self._wildcards.setdefault(head, []).append((key, pairs))
            self._by_key.setdefault(key, []).append(entry)
            self._by_body.setdefault((key, entry.get("request_body_sha")), []).append(entry)
        self._calls: dict[Any, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def answer(self, method: str, path: str, query: str, body: bytes) -> PreparedResponse | None:
        """The recorded response for this request, or None when none was recorded."""
        key = self._find_key(method, path, query)
        lookup: Any = (key, _body_digest(body))
        entries = self._by_body.get(lookup)
        if entries is None:
            lookup = key
            entries = self._by_key.get(key)
        if not entries:
            with self._lock:
                self.misses += 1
            return None
        with self._lock:
            call = self._calls.get(lookup, 0)
            self._calls[lookup] = call + 1
            self.hits += 1
        entry = entries[min(call, len(entries) - 1)]
        headers = [
            (name.encode("latin-1"), str(value).encode("latin-1"))
            for name, value in entry.get("headers", {}).items()
        ]
        if "body" in entry:
            body_out = orjson.dumps(entry["body"])
            if not any(name == b"content-type" for name, _ in headers):
                headers.append((b"content-type", b"application/json"))
        else:
            body_out = str(entry.get("body_text", "")).encode()
        return PreparedResponse(int(entry["status"]), headers, body_out, source="replay")

    def _find_key(self, method: str, path: str, query: str) -> str:
        """The recorded key this request matches: its own key; else (a recording written
        before its path's token was redacted) the key with the path as sent; else a key whose
        "[REDACTED]" values fit the request's. Its own key when none matches."""
        own = replay_key(method, path, query, self.redactor)
        if own in self._by_key:
            return own
        sorted_query = _sorted_query(query, self.redactor)
        pairs = sorted(parse_qsl(query, keep_blank_values=True))
        for shown_path in dict.fromkeys((self.redactor.path(path), path)):
            key = _key(method, shown_path, sorted_query)
            if key in self._by_key:
                return key
            for candidate, recorded in self._wildcards.get(key.partition("?")[0], ()):
                if len(recorded) == len(pairs) and all(
                    name == got_name and _value_matches(value, got)
                    for (name, value), (got_name, got) in zip(recorded, pairs, strict=True)
                ):
                    return candidate
        return own

    def status(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario_name,
            "exchanges": len(self),
            "hits": self.hits,
            "misses": self.misses,
        }
