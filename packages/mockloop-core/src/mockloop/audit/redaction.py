"""Secrets out of audit records: by name (the request log's secret words) and by shape.

Long values are shortened (strings past 2 KiB keep their first 256 characters and their
length, lists past 100 items their first 100 and a count).

A value is replaced by "[REDACTED]" when its key looks secret (`password`, `token`, `api_key`,
`authorization`, ...). Strings are also scanned: `Bearer <credential>` / `Basic <credential>`
lose the credential, URLs lose their `user:password@` part and the values of secret-looking
query parameters, and `name=value` / `name: value` pairs with secret names lose the value.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

from mockloop.redaction import REDACTED, Redactor

__all__ = ["redact_arguments", "redact_text"]

_REDACTOR = Redactor()
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9\-._~+/=:]+")
# The look-behind anchors a name at its start: without it a long run of word characters
# is retried from every position (quadratic time).
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_\-.])(?P<name>[A-Za-z0-9_\-.]+)(?P<sep>\s*[:=]\s*)(?P<value>[^\s,&;]+)"
)
_URL = re.compile(r"\bhttps?://[^\s\"'<>]+")
_MAX_DEPTH = 20
# Arguments can carry whole results (a report of a load run holds its HDR histograms): the
# trail keeps what identifies the call, not megabytes of data.
_MAX_TEXT = 2048
_KEEP_TEXT = 256
_MAX_ITEMS = 100


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_REDACTOR.is_secret(name) for name, _ in pairs):
            query = urlencode(
                [(n, REDACTED if _REDACTOR.is_secret(n) else v) for n, v in pairs], safe="[]"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """`text` with credentials, secret URL parts and secret `name=value` pairs redacted."""
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _URL.sub(lambda m: _redact_url(m.group(0)), text)
    return _PAIR.sub(
        lambda m: (
            f"{m.group('name')}{m.group('sep')}{REDACTED}"
            if _REDACTOR.is_secret(m.group("name")) and m.group("value") != REDACTED
            else m.group(0)
        ),
        text,
    )


def redact_arguments(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of `value` with every secret redacted."""
    if _depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {
            str(key): REDACTED
            if _REDACTOR.is_secret(str(key)) and value[key] is not None
            else redact_arguments(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        kept = [redact_arguments(item, _depth + 1) for item in items[:_MAX_ITEMS]]
        if len(items) > _MAX_ITEMS:
            kept.append(f"[... {len(items) - _MAX_ITEMS} more items]")
        return kept
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            return redact_text(value[:_KEEP_TEXT]) + f"[... {len(value)} chars]"
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))
