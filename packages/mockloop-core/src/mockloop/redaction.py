"""The one redaction every sink uses: request log, webhooks, runs, reports, audit, MCP text.

A name (header, query parameter, form field, JSON key) is secret when it is one of
`SECRET_HEADERS` or contains one of `SECRET_WORDS` once lowercased and stripped of separators.
`Redactor` replaces the values under such names with "[REDACTED]" in headers, query strings,
JSON values, form bodies and free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

import orjson

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_WORDS",
    "Redactor",
    "cut_text",
]

REDACTED = "[REDACTED]"

#: Header names whose values are always redacted (compared lowercased).
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

#: A header, query parameter or JSON field is secret when its name, lowercased and stripped of
#: everything but letters and digits, contains one of these words ("X-Api-Key" -> "xapikey").
SECRET_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authorization",
    "cookie",
    "ssn",
    "creditcard",
    "cardnumber",
    "cvv",
)

_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|digest)\s+[A-Za-z0-9\-._~+/=]{4,}")


def _redact_credential(match: re.Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


_ALNUM_BYTES = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NON_ALNUM_BYTES = bytes(b for b in range(256) if b not in _ALNUM_BYTES)
_LOWER_ALNUM = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
# In text that is not parseable JSON: `"name": "value"`, `name=value`, `name: value`, and
# `<name>value</name>`. Unquoted values run to the end of the line or a separator, so
# "Authorization: Bearer abc" loses the whole credential, not just "Bearer".
# The look-behind makes a name start only at the start of a word: without it a long run of
# name characters (a base64 blob) is retried from every position, quadratic in its length.
_TEXT_PAIR = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(?P<q>["']?)(?P<name>[A-Za-z0-9_.\-]+)(?P=q)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^\r\n,&;}\]<]+)"""
)
_XML_ELEMENT = re.compile(r"<(?P<name>[A-Za-z0-9_.\-:]+)>(?P<value>[^<]*)</(?P=name)>")


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)


class Redactor:
    """Replaces secret values with "[REDACTED]" in headers, query strings and bodies.

    A name is secret when it is one of `SECRET_HEADERS` (headers only), or when, lowercased and
    stripped of separators, it contains one of `SECRET_WORDS` or one of `extra_fields` (treated
    the same way, so "card-pin" also covers "cardPin" and "user_card_pin").

    Args:
        extra_fields: more names to treat as secret, case-insensitive.
    """

    def __init__(self, extra_fields: Iterable[str] = ()) -> None:
        extras = tuple(_NOT_ALNUM.sub("", name.lower()) for name in extra_fields)
        self.words: tuple[str, ...] = SECRET_WORDS + tuple(word for word in extras if word)
        # One alternation regex: a loop of `word in text` checks costs several times more.
        self._byte_words = re.compile(b"|".join(re.escape(word.encode()) for word in self.words))
        # Names repeat endlessly (the same headers, the same fields), so verdicts are cached.
        self._is_secret = lru_cache(maxsize=4096)(self._decide)
        self._header_names: dict[bytes | str, tuple[str, bool]] = {}

    def _decide(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in SECRET_HEADERS:
            return True
        squashed = _NOT_ALNUM.sub("", lowered)
        return any(word in squashed for word in self.words)

    def is_secret(self, name: str) -> bool:
        """Whether values under this header, parameter or field name are redacted."""
        return self._is_secret(name)

    def may_hold_secrets(self, data: bytes) -> bool:
        """False only when no secret name can occur in `data` (a cheap scan that skips parsing).

        Separators are deleted and letters lowercased in C (`bytes.translate`), so "API_Key"
        still shows as "apikey". Text that could hide a name behind an escape (backslash,
        percent-encoding) or non-ASCII letters always counts as possibly secret.
        """
        if not data.isascii() or b"\\" in data or b"%" in data:
            return True
        squashed = data.translate(_LOWER_ALNUM, _NON_ALNUM_BYTES)
        return self._byte_words.search(squashed) is not None

    def headers(self, pairs: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
        """Decode an ASGI header list to `{lowercase name: value}`, secrets redacted.

        Repeated headers are joined with ", " (a JSON object cannot repeat a key).
        """
        names = self._header_names
        result: dict[str, str] = {}
        for raw_name, raw_value in pairs:
            known = names.get(raw_name)
            if known is None:
                name = _text(raw_name).lower()
                known = (name, self._is_secret(name))
                if len(names) < 4096:
                    names[raw_name] = known
            name, secret = known
            if secret:
                value = REDACTED
            elif type(raw_value) is bytes:
                value = raw_value.decode("latin-1")
            else:
                value = _text(raw_value)
            if name in result:
                value = f"{result[name]}, {value}"
            result[name] = value
        return result

    def query(self, raw: bytes | str) -> str:
        """A query string (or form body) with each secret parameter's value redacted."""
        if not raw:
            return ""
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        if not self.may_hold_secrets(data):
            return data.decode("latin-1")
        text = _text(raw)
        parts = text.split("&")
        for index, part in enumerate(parts):
            key, sep, _ = part.partition("=")
            if self._is_secret(unquote_plus(key)):
                parts[index] = f"{key}={REDACTED}" if sep else part
        return "&".join(parts)

    def json_value(self, value: Any) -> Any:
        """A parsed JSON value with every secret field's value redacted, recursively."""
        if isinstance(value, dict):
            return {
                key: REDACTED if self._is_secret(str(key)) else self.json_value(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(item) for item in value]
        if isinstance(value, str) and len(value) <= 65536:
            # A credential inside a free-text field ("Authorization: Bearer abc").
            return _SCHEME_CREDENTIAL.sub(_redact_credential, self.text(value))
        return value

    def text(self, text: str) -> str:
        """Best-effort redaction of free text: `name: value`, `name=value`, `<name>value</name>`.

        Used for bodies that are not parseable JSON (truncated, malformed, XML, plain text).
        """

        def pair(match: re.Match[str]) -> str:
            if not self._is_secret(match.group("name")):
                return match.group(0)
            start = match.start("value") - match.start(0)
            value = match.group("value")
            quote = value[0] if value[:1] in ('"', "'") else ""
            return f"{match.group(0)[:start]}{quote}{REDACTED}{quote}"

        def element(match: re.Match[str]) -> str:
            if not self._is_secret(match.group("name")):
                return match.group(0)
            name = match.group("name")
            return f"<{name}>{REDACTED}</{name}>"

        return _XML_ELEMENT.sub(element, _TEXT_PAIR.sub(pair, text))

    def body(self, raw: bytes | str, content_type: str, limit: int) -> tuple[str, bool]:
        """A body as redacted text of at most about `limit` characters, and whether it was cut.

        JSON bodies (by content type, or looking like an object or array) are parsed, redacted
        field by field and re-serialised; form bodies are redacted parameter by parameter;
        anything else, and JSON too large or too broken to parse, is truncated and then
        redacted as text.
        """
        if not raw:
            return "", False
        data = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
        if not self.may_hold_secrets(data[: limit * 64]) and len(data) <= limit * 64:
            return cut_text(data, limit)
        ctype = content_type.lower()
        if "x-www-form-urlencoded" in ctype:
            text, truncated = cut_text(data, limit)
            return self.query(text), truncated
        looks_json = "json" in ctype or data[:1] in (b"{", b"[")
        # Parsing is skipped past this size: a multi-megabyte upload is not worth a full parse
        # to keep its first few kilobytes; the text fallback still redacts what is kept.
        if looks_json and len(data) <= max(limit * 64, 1 << 20):
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
            else:
                text = orjson.dumps(self.json_value(parsed)).decode()
                if len(text) > limit:
                    return self.text(text[:limit]), True
                return text, False
        text, truncated = cut_text(data, limit)
        return self.text(text), truncated


def cut_text(data: bytes | bytearray, limit: int) -> tuple[str, bool]:
    # Decode a little more than needed (a character is at most 4 bytes), then cut characters.
    text = bytes(data[: limit * 4 + 4]).decode("utf-8", errors="replace")
    if len(text) > limit:
        return text[:limit], True
    return text, len(data) > limit * 4 + 4
