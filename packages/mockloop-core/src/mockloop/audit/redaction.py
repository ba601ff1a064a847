"""Secrets out of audit records: the one redaction (`mockloop.redaction`), with size limits.

Long values are shortened (strings past 2 KiB keep their first 256 characters and their
length, lists past 100 items their first 100 and a count).

A value is replaced by "[REDACTED]" when its key looks secret (`password`, `token`, `api_key`,
`authorization`, `sig`, ...). Strings go through the shared text rules: `Bearer <credential>`
/ `Basic <credential>` lose the credential, URLs lose the password of their user-info and the
values of secret query parameters, `name=value` / `name: value` pairs with secret names lose
the value, and well-known token shapes (JWTs, `sk-...`, `ghp_...`, AWS key ids) are replaced.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mockloop.redaction import REDACTED, default_redactor
from mockloop.redaction import redact_text as _redact_text

__all__ = ["redact_arguments", "redact_text"]

_MAX_DEPTH = 20
# Arguments can carry whole results (a report of a load run holds its HDR histograms): the
# trail keeps what identifies the call, not megabytes of data.
_MAX_TEXT = 2048
_KEEP_TEXT = 256
_MAX_ITEMS = 100


def redact_text(text: str) -> str:
    """`text` with credentials, secret URL parts and secret `name=value` pairs redacted."""
    return _redact_text(text)


def redact_arguments(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of `value` with every secret redacted and long values shortened."""
    if _depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        redactor = default_redactor()
        return {
            str(key): REDACTED
            if redactor.is_secret(str(key)) and item is not None and not isinstance(item, bool)
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
