"""The one redaction every sink uses: request log, webhooks, runs, reports, audit, MCP text.

A name (header, query parameter, form field, JSON key) is secret when it is one of
`SECRET_HEADERS`, contains one of `SECRET_WORDS` once lowercased and stripped of separators,
is exactly one of `SECRET_EXACT_NAMES` ("sig", "signature", "X-Amz-Signature", "jwt"; so
"signal" and "design" stay), or has one of `SECRET_NAME_PARTS` as a whole word of it ("ssn",
"user_ssn", "customerSSN"; so "business_name", "className" and "address" stay). Query and form
parameters are also secret when exactly one of `SECRET_PARAM_NAMES` (the OAuth `code`, `auth`):
those names are too common as JSON keys ("code": 404) and in prose ("status code=404") to
redact anywhere but in a query string, a form body or a URL's query inside text.

A number under a name secret only through the word "token" is a count, not a secret
("total_tokens": 12, "max_tokens=100" in prose): it stays, in JSON and in text, while strings
under such names are redacted. None and booleans under secret names stay too (`has_secret`).

`Redactor` replaces the values under such names with "[REDACTED]" in headers, query strings,
JSON values, form bodies and free text. Free text (and every JSON string value) also loses:

- the password of URL user-info: `https://user:pass@host` -> `https://user:[REDACTED]@host`;
- the values of secret parameters of URLs inside it (`?access_token=abc&x=1`);
- `Bearer`/`Basic`/`Token` credentials and `Digest` parameter lists (a plain word after the
  scheme, as in "basic usage", is prose and stays);
- well-known token shapes, whatever their name: JWTs (`eyJ...eyJ...`), `sk-...` API keys,
  GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-`), Slack
  (`xox?-`), Google (`AIza`), AWS access key ids (`AKIA`/`ASIA` + 16). Each shape has a fixed
  prefix and a minimum length, so ordinary words do not match.

`redact_text(str)` and `redact_value(obj)` apply the default policy to sinks holding arbitrary
text or JSON-able data (dicts, lists, pydantic models). A base64 or base64url blob is never read
as `name=value` (its `=` padding is no value, and no name starts after `+` or `/`), and text
wrapped in `EncodedData` (an HDR histogram) is passed through untouched.

Two narrower sets of rules serve sinks whose data must stay usable as it is:

- `Redactor.path` (request paths in the request log and webhook payloads): only the token
  shapes and URL user-info passwords, behind the cheap `may_hold_secrets` pre-scan; a path has
  no `name=value` pairs to judge.
- Recordings of proxied traffic (`mockloop.proxy.recording`), which replay must serve as the
  client saw them: `recording_value` / `token_shapes` for bodies (token shapes and URL
  passwords only: no field is redacted by its name, so `next_page_token`, `total_tokens` and
  `business_name` replay intact), `credentials` for header values (adds `Bearer`/`Basic`/
  `Token`/`Digest` credentials), and `recording_query` for query strings and replay keys
  (values of `is_secret` parameters and token shapes; never the parameter-only names, so
  `?code=US` and `?code=FR` stay two keys).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson
from pydantic import BaseModel

__all__ = [
    "REDACTED",
    "SECRET_EXACT_NAMES",
    "SECRET_HEADERS",
    "SECRET_NAME_PARTS",
    "SECRET_PARAM_NAMES",
    "SECRET_WORDS",
    "EncodedData",
    "Redactor",
    "cut_text",
    "default_redactor",
    "redact_text",
    "redact_value",
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
    "socialsecurity",
    "creditcard",
    "cardnumber",
    "cvv",
)

#: Names secret everywhere, but only as the whole name (squashed like `SECRET_WORDS`): URL
#: signatures (`sig`, `signature`, S3's `X-Amz-Signature`, GCS's `X-Goog-Signature`, GitHub's
#: `X-Hub-Signature-256`) and bare JWTs.
SECRET_EXACT_NAMES: frozenset[str] = frozenset(
    {
        "sig",
        "signature",
        "xamzsignature",
        "xgoogsignature",
        "xhubsignature",
        "xhubsignature256",
        "jwt",
    }
)

#: Names secret when one of the words of the name (split at separators and at lower-to-upper
#: case changes) is exactly one of these: "ssn", "user_ssn" and "customerSSN", but not
#: "business", "className", "address" or "process" that merely contain the letters.
SECRET_NAME_PARTS: frozenset[str] = frozenset({"ssn"})

#: Names secret as query or form parameters only (a query string, a form body, the query of
#: a URL inside text): the OAuth authorization `code` and `auth` (a token in Firebase URLs).
SECRET_PARAM_NAMES: frozenset[str] = frozenset({"code", "auth", "authcode"})

# The one secret word that also names counts ("total_tokens", "max_tokens"): a number under a
# name secret only through it stays.
_COUNT_WORD = "token"
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A count: a number, alone or followed by a blank ("tokens: 12 left").
_COUNT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?![^\s])")

_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_WORD_CHARS = r"A-Za-z0-9\-._~+/="
# `Bearer`/`Basic`/`Token` and a credential. A credential that is a plain lowercase word
# (optionally capitalised) is prose ("basic usage", "Token expired") and stays, and so does an
# auth-param (`Bearer realm="api"` in a WWW-Authenticate challenge: a name, `=`, then a value;
# a credential's `=` is base64 padding, followed by more `=` or its end).
_SCHEME_CREDENTIAL = re.compile(
    rf"(?<![A-Za-z0-9_\-])(?P<scheme>(?i:bearer|basic|token))(?P<space>\s+)"
    rf"(?![A-Z]?[a-z]+(?![{_WORD_CHARS}]))(?![A-Za-z0-9_\-]+=[^=\s,])[{_WORD_CHARS}]{{4,}}"
)
# `Digest username="x", realm="y", response="..."`: the whole parameter list, with its
# quotes JSON-escaped or not.
_DIGEST_CREDENTIAL = re.compile(
    r"(?<![A-Za-z0-9_\-])(?P<scheme>(?i:digest))(?P<space>\s+)"
    r"(?:[A-Za-z0-9_\-]+=(?:\\?\"[^\"\\\r\n]*\\?\"|[^\s,\"\\]+)\s*,?\s*)+"
)
# `scheme://user:password@host`: the look-behind starts a scheme only at a word start (no
# quadratic retry inside long words); the password runs to the last `@` before the path.
_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^\s/?#@:\"'<>\\]*):(?P<password>[^\s/?#\"'<>\\]*)@"
)
_TOKEN_SHAPES = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
    r"|sk-[A-Za-z0-9_\-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r")"
)

_ALNUM_BYTES = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NON_ALNUM_BYTES = bytes(b for b in range(256) if b not in _ALNUM_BYTES)
_LOWER_ALNUM = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
# What the cheap pre-scan looks for besides the secret words, in squashed lowercase text: the
# exact and parameter names, the credential schemes and the token-shape prefixes ("sk-" is
# looked for in the raw bytes: squashed, "sk" is in every "task" and "desk").
_SCAN_EXTRA: tuple[str, ...] = (
    "sig",
    "jwt",
    "code",
    "auth",
    "bearer",
    "basic",
    "digest",
    "eyj",
    "akia",
    "asia",
    "ghp",
    "gho",
    "ghu",
    "ghs",
    "ghr",
    "githubpat",
    "glpat",
    "xox",
    "aiza",
    "ssn",
)
# In text that is not parseable JSON: `"name": "value"`, `name=value`, `name: value`, and
# `<name>value</name>`. A name is found first (`_PAIR_HEAD`); only a secret one takes its value
# (`_PAIR_VALUE`), so `url=https://x/cb?access_token=abc` still reaches the token. Unquoted
# values run to the end of the line or a separator, so "Authorization: Bearer abc" loses the
# whole credential, not just "Bearer".
# The look-behind makes a name start only at the start of a word: without it a long run of
# name characters (a base64 blob) is retried from every position, quadratic in its length.
# `+` and `/` are in the look-behind too: inside a base64 blob every run between them would
# otherwise be a name, and the blob's `=` padding its value.
_PAIR_HEAD = re.compile(
    r"""(?<![A-Za-z0-9_.\-+/])(?P<q>["']?)(?P<name>[A-Za-z0-9_.\-]+)(?P=q)(?P<sep>\s*[:=]\s*)"""
)
# An unquoted value never runs past a double quote or a backslash: in JSON text that is the end
# of the string holding it (`"note": "expired-token: ..."` keeps its closing quote).
_PAIR_VALUE = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|[^\r\n,&;}\]<"\\]+""")
# After `=` (a query string, `key=value` text) an unquoted value also ends at a blank.
_PAIR_VALUE_EQ = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|[^\s,&;}\]<"'\\]+""")
_BLANK = re.compile(r"\s")
_XML_ELEMENT = re.compile(r"<(?P<name>[A-Za-z0-9_.\-:]+)>(?P<value>[^<]*)</(?P=name)>")
_MAX_DEPTH = 64  # deeper JSON values are redacted whole (no recursion limit is ever reached)
_MAX_TEXT = 1 << 20  # longer strings are redacted by the text rules in slices of this size


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)


def _redacted_already(value: Any) -> bool:
    """A string redacted already ("[REDACTED]", "Bearer [REDACTED]"): kept as it is, so a
    redacted copy keeps its shape (a recording replays what the client saw)."""
    if not isinstance(value, str) or REDACTED not in value:
        return False
    return value.replace(REDACTED, "").strip().lower() in ("", "bearer", "basic", "token", "digest")


class EncodedData(str):
    """Encoded binary data (a base64 HDR histogram): text the redaction passes through as it is.

    Wrap a field's value in it before a redacting store or sink sees it; it is still a `str`
    (JSON encoders write it as one).
    """

    __slots__ = ()


def _credential(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{match.group('space')}{REDACTED}"


def _userinfo(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{match.group('user')}:{REDACTED}@"


class Redactor:
    """Replaces secret values with "[REDACTED]" in headers, query strings, bodies and text.

    A name is secret when it is one of `SECRET_HEADERS` (headers only), or when, lowercased and
    stripped of separators, it contains one of `SECRET_WORDS` or one of `extra_fields` (treated
    the same way, so "card-pin" also covers "cardPin" and "user_card_pin"), or is exactly one
    of `SECRET_EXACT_NAMES` (anywhere) or `SECRET_PARAM_NAMES` (query and form parameters, and
    `name=value` in a URL's query inside text), or has a word in `SECRET_NAME_PARTS`.

    Args:
        extra_fields: more names to treat as secret, case-insensitive.
    """

    def __init__(self, extra_fields: Iterable[str] = ()) -> None:
        extras = tuple(_NOT_ALNUM.sub("", name.lower()) for name in extra_fields)
        self.words: tuple[str, ...] = SECRET_WORDS + tuple(word for word in extras if word)
        self._strong_words = tuple(word for word in self.words if word != _COUNT_WORD)
        # One alternation regex: a loop of `word in text` checks costs several times more.
        self._byte_words = re.compile(
            b"|".join(re.escape(word.encode()) for word in self.words + _SCAN_EXTRA)
        )
        # Names repeat endlessly (the same headers, the same fields), so verdicts are cached.
        self._is_secret = lru_cache(maxsize=4096)(self._decide)
        self._is_param_secret = lru_cache(maxsize=4096)(self._decide_param)
        self._hides_numbers = lru_cache(maxsize=4096)(self._decide_numbers)
        self._header_names: dict[bytes | str, tuple[str, bool]] = {}

    def _decide(self, name: str) -> bool:
        return self._decide_by(name, self.words)

    def _decide_numbers(self, name: str) -> bool:
        # Secret through something else than the count word: a number under it is hidden too.
        return self._decide_by(name, self._strong_words)

    def _decide_by(self, name: str, words: tuple[str, ...]) -> bool:
        lowered = name.lower()
        if lowered in SECRET_HEADERS:
            return True
        squashed = _NOT_ALNUM.sub("", lowered)
        if squashed in SECRET_EXACT_NAMES or any(word in squashed for word in words):
            return True
        return any(part.lower() in SECRET_NAME_PARTS for part in _NAME_PARTS.findall(name))

    def _hides(self, name: str, item: Any) -> bool:
        """Whether a JSON value under `name` is replaced: a secret name, and a value that is
        not None, a boolean, a redacted string, nor a count under a "token" name."""
        if item is None or isinstance(item, bool) or not self._is_secret(name):
            return False
        if isinstance(item, int | float):
            return self._hides_numbers(name)
        return not _redacted_already(item)

    def _decide_param(self, name: str) -> bool:
        return self._is_secret(name) or _NOT_ALNUM.sub("", name.lower()) in SECRET_PARAM_NAMES

    def is_secret(self, name: str) -> bool:
        """Whether values under this header, parameter or field name are redacted."""
        return self._is_secret(name)

    def is_param_secret(self, name: str) -> bool:
        """Whether a query or form parameter (or `name=value` in a URL's query inside text) of
        this name is redacted: every secret name, and the parameter-only names such as OAuth's
        `code`."""
        return self._is_param_secret(name)

    def path(self, path: str) -> str:
        """A request path with token shapes and URL user-info passwords redacted.

        `/keys/sk-live-...` and `/reset/eyJ...` lose the token; a path has no `name=value`
        pairs to judge, so nothing else changes. Paths the cheap pre-scan passes are returned
        as they are.
        """
        if not path or not self.may_hold_secrets(path.encode("utf-8", "replace")):
            return path
        return self.token_shapes(path)

    def token_shapes(self, text: str) -> str:
        """`text` with only the high-confidence rules applied: URL user-info passwords and the
        well-known token shapes (JWT, `sk-`, `ghp_`, `AKIA`, ...). No name is judged, so
        ordinary data (page tokens, counts, prose) is never changed."""
        if "://" in text:
            text = _USERINFO.sub(_userinfo, text)
        return _TOKEN_SHAPES.sub(REDACTED, text)

    def credentials(self, text: str) -> str:
        """`token_shapes` plus `Bearer`/`Basic`/`Token` credentials and `Digest` parameter
        lists: the rules for a header value whose name is not secret."""
        return self._free_text(text)

    def recording_value(self, value: Any, _depth: int = 0) -> Any:
        """A parsed JSON value with `token_shapes` applied to every string: what a recording
        of proxied traffic keeps of a body (no field is redacted by its name, numbers and
        booleans are never touched)."""
        if _depth > _MAX_DEPTH:
            return REDACTED
        if isinstance(value, dict):
            return {key: self.recording_value(item, _depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self.recording_value(item, _depth + 1) for item in value]
        if isinstance(value, str):
            return self.token_shapes(value)
        return value

    def recording_query(self, raw: bytes | str) -> str:
        """A query string as a recording keeps it: the values of `is_secret` parameters, and
        token shapes and URL passwords inside other values, redacted. The parameter-only names
        (`code`, `auth`) are kept, so replay keys still tell `?code=US` from `?code=FR`."""
        if not raw:
            return ""
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        if not self.may_hold_secrets(data):
            return data.decode("latin-1")
        parts = _text(raw).split("&")
        for index, part in enumerate(parts):
            key, sep, value = part.partition("=")
            if self._is_secret(unquote_plus(key)):
                parts[index] = f"{key}={REDACTED}" if sep else part
            elif sep and value:
                decoded = unquote_plus(value)
                cleaned = self.token_shapes(decoded)
                if cleaned != decoded:
                    parts[index] = f"{key}={quote_plus(cleaned, safe='[]')}"
        return "&".join(parts)

    def may_hold_secrets(self, data: bytes) -> bool:
        """False only when no secret can occur in `data` (a cheap scan that skips parsing).

        Separators are deleted and letters lowercased in C (`bytes.translate`), so "API_Key"
        still shows as "apikey"; the scan looks for every secret word and exact name, the
        credential schemes and the token-shape prefixes. Text that could hide a name behind an
        escape (backslash, percent-encoding) or non-ASCII letters, and text holding a URL
        with user-info (`://` and `@`), always counts as possibly secret.
        """
        if not data.isascii() or b"\\" in data or b"%" in data or b"sk-" in data:
            return True
        if b"@" in data and b"://" in data:
            return True
        squashed = data.translate(_LOWER_ALNUM, _NON_ALNUM_BYTES)
        return self._byte_words.search(squashed) is not None

    def headers(self, pairs: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
        """Decode an ASGI header list to `{lowercase name: value}`, secrets redacted.

        Values under secret names are replaced whole; other values lose what the text rules
        find (a `Referer` with `?access_token=`, a custom header carrying `Bearer ...`).
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
            else:
                data = raw_value if type(raw_value) is bytes else _text(raw_value).encode()
                value = data.decode("latin-1")
                # Short values without `=`, `@` or a space hold no pair, URL, scheme
                # credential or token shape: most headers skip the scan.
                if (
                    len(data) >= 20 or b"=" in data or b"@" in data or b" " in data
                ) and self.may_hold_secrets(data):
                    value = self.text(value)
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
            key, sep, value = part.partition("=")
            if self._is_param_secret(unquote_plus(key)):
                parts[index] = f"{key}={REDACTED}" if sep else part
            elif sep and value:
                # A parameter holding a URL with credentials, or a token by its shape.
                cleaned = self._free_text(unquote_plus(value))
                if cleaned != unquote_plus(value):
                    parts[index] = f"{key}={cleaned}"
        return "&".join(parts)

    def json_value(self, value: Any, _depth: int = 0) -> Any:
        """A parsed JSON value with every secret field's value redacted, recursively (None,
        booleans and counts under "token" names stay); strings go through the text rules
        (`text`)."""
        if _depth > _MAX_DEPTH:
            return REDACTED
        if isinstance(value, dict):
            return {
                key: REDACTED if self._hides(str(key), item) else self.json_value(item, _depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(item, _depth + 1) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def value(self, value: Any, _depth: int = 0) -> Any:
        """A JSON-ready copy of any JSON-able value (pydantic models, dicts, lists, tuples,
        strings) with secrets redacted: values under secret keys (None, booleans such as
        `has_secret` and counts such as `total_tokens` stay) and secrets the text rules find in
        strings. `EncodedData` is returned as it is."""
        if isinstance(value, EncodedData):
            return value
        if _depth > _MAX_DEPTH:
            return REDACTED
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, dict):
            return {
                str(key): REDACTED
                if self._hides(str(key), item) and not isinstance(item, EncodedData)
                else self.value(item, _depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item, _depth + 1) for item in value]
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))

    def text(self, text: str) -> str:
        """Free text with secrets redacted: `name: value`, `name=value`, `<name>value</name>`
        under secret names, URL user-info passwords, scheme credentials and token shapes.

        Used for bodies that are not parseable JSON (truncated, malformed, XML, plain text),
        JSON string values, messages and reply text.
        """
        if len(text) > _MAX_TEXT:
            return "".join(
                self.text(text[start : start + _MAX_TEXT])
                for start in range(0, len(text), _MAX_TEXT)
            )

        def element(match: re.Match[str]) -> str:
            name = match.group("name")
            if not self._is_secret(name):
                return match.group(0)
            if _COUNT.fullmatch(match.group("value").strip()) and not self._hides_numbers(name):
                return match.group(0)  # <total_tokens>12</total_tokens>
            return f"<{name}>{REDACTED}</{name}>"

        if "=" in text or ":" in text:
            text = self._pairs(text)
        if "<" in text:
            text = _XML_ELEMENT.sub(element, text)
        return self._free_text(text)

    def _pairs(self, text: str) -> str:
        """`text` with the value of each `name: value` / `name=value` of a secret name
        redacted.

        The parameter-only names (`code`, `auth`) count only in a URL's query (right after `?`
        or `&`) or in text that is a bare query string (no blank in it): "status code=404" is
        prose. A number under a name secret only through "token" is a count and stays, outside
        a query.
        """
        out: list[str] = []
        kept = 0  # text[:kept] is in `out` already
        bare_query: bool | None = None  # computed on first need
        for head in _PAIR_HEAD.finditer(text):
            if head.start() < kept:
                continue  # inside a value redacted already
            name = head.group("name")
            equals = "=" in head.group("sep")
            in_query = False
            if equals:
                start = head.start()
                if start and text[start - 1] in "?&":
                    in_query = True
                elif start == 0:
                    if bare_query is None:
                        bare_query = _BLANK.search(text) is None
                    in_query = bare_query
            secret = self._is_param_secret(name) if in_query else self._is_secret(name)
            if not secret:
                continue
            if text.startswith(REDACTED, head.end() + (text[head.end() : head.end() + 1] in "\"'")):
                continue  # redacted already
            pattern = _PAIR_VALUE_EQ if equals else _PAIR_VALUE
            value = pattern.match(text, head.end())
            if value is None:
                continue
            found = value.group(0)
            if equals and not found.strip("="):
                continue  # base64 padding (`...dG9rZW4=`), not a value
            if not in_query and _COUNT.match(found) and not self._hides_numbers(name):
                continue  # a count ("tokens: 12"), not a secret; "12" in quotes is a string
            quote = found[0] if found[:1] in ('"', "'") else ""
            if not quote and head.group("q") == '"':
                quote = '"'  # `"name": 3` stays JSON: `"name": "[REDACTED]"`
            out.append(text[kept : head.end()])
            out.append(f"{quote}{REDACTED}{quote}")
            kept = value.end()
        if not out:
            return text
        out.append(text[kept:])
        return "".join(out)

    def _free_text(self, text: str) -> str:
        """The name-independent rules: URL user-info, scheme credentials, token shapes."""
        if "://" in text:
            text = _USERINFO.sub(_userinfo, text)
        text = _SCHEME_CREDENTIAL.sub(_credential, text)
        text = _DIGEST_CREDENTIAL.sub(_credential, text)
        return _TOKEN_SHAPES.sub(REDACTED, text)

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
    """`data` decoded as UTF-8 and cut to `limit` characters, and whether anything was cut."""
    # Decode a little more than needed (a character is at most 4 bytes), then cut characters.
    text = bytes(data[: limit * 4 + 4]).decode("utf-8", errors="replace")
    if len(text) > limit:
        return text[:limit], True
    return text, len(data) > limit * 4 + 4


_DEFAULT = Redactor()


def default_redactor() -> Redactor:
    """The shared `Redactor` with the default policy (no extra field names)."""
    return _DEFAULT


def redact_text(text: str) -> str:
    """`text` with every secret the default policy finds redacted (see `Redactor.text`)."""
    return _DEFAULT.text(text) if text else text


def redact_value(value: Any) -> Any:
    """A JSON-ready copy of `value` (model, dict, list, string, ...) with secrets redacted
    (see `Redactor.value`)."""
    return _DEFAULT.value(value)
