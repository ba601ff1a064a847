"""API3 Broken Object Property Level Authorization: sensitive and undocumented properties in
responses, and privileged properties accepted in request bodies (mass assignment).

Responses are the legitimate answers of the description's GET operations. A property is
undocumented only when the documented schema lists properties and does not allow others; a
sensitive name documented on purpose (an API-key endpoint returning `api_key`) is not reported
unless it is a password, a hash, a card or a social security number. Mass assignment is a flaw
when the write's response carries the injected privileged value and the legitimate write's
response does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockloop.security.ids import object_read, path_parameters, successful_reads
from mockloop.security.probes.selection import baseline, read_operations, write_operations
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label
from mockloop.spec import Operation

__all__ = ["HANDLERS", "SECRET_VALUES", "SENSITIVE"]

SENSITIVE = re.compile(
    r"(?i)^(.*_)?(password|passwd|pwd|password_?hash|passhash|hash(ed)?_?password|secret|"
    r"client_?secret|api_?key|private_?key|secret_?key|access_?key|refresh_?token|"
    r"session_?token|otp_?secret|mfa_?secret|totp_?secret|salt|ssn|social_?security(_number)?|"
    r"credit_?card(_number)?|card_?number|cvv|cvc|pin)$"
)
_ALWAYS = re.compile(r"(?i)password|passwd|hash|ssn|social_?security|cvv|cvc|card_?number")
#: Secret-looking values, whatever the property is called: (what it is, its shape).
SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a password hash", re.compile(r"^\$(2[abxy]?|argon2(id|i|d)|scrypt|[156])\$[^\s]{8,}")),
    ("a password hash", re.compile(r"^(pbkdf2_sha(1|256|512)|bcrypt_sha256|sha1)\$\S{8,}")),
    ("a JWT", re.compile(r"^eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*$")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an AWS access key", re.compile(r"^(AKIA|ASIA)[0-9A-Z]{16}$")),
    ("an API secret key", re.compile(r"^(sk|rk)_(live|test)_[0-9A-Za-z]{10,}$")),
    ("an access token", re.compile(r"^(ghp|gho|ghs|github_pat|xox[abpr]|glpat)[-_][\w-]{10,}$")),
    ("a social security number", re.compile(r"^\d{3}-\d{2}-\d{4}$")),
)
#: Value kinds reported even when the description documents the property on purpose.
_ALWAYS_VALUES = {"a password hash", "a private key", "a social security number"}
_CARD = re.compile(r"\d{4}([ -]?\d{2,6}){2,4}")
#: Requests kept back when reading operations: the probes after this one need some too.
_RESERVE = 4
_PRIVILEGED: dict[str, Any] = {"is_admin": True, "isAdmin": True, "admin": True, "role": "admin"}


def _walk(value: Any, path: str = "", depth: int = 0) -> list[tuple[str, str, Any]]:
    """(json path, key, value) of every object key in a JSON value, a few levels deep."""
    if depth > 4:
        return []
    out: list[tuple[str, str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((f"{path}.{key}" if path else key, key, item))
            out.extend(_walk(item, f"{path}.{key}" if path else key, depth + 1))
    elif isinstance(value, list):
        for item in value[:5]:
            out.extend(_walk(item, f"{path}[]", depth + 1))
    return out


def _documented_keys(ctx: ScanContext, schema: dict[str, Any] | None) -> set[str]:
    keys: set[str] = set()
    stack = [schema] if schema else []
    seen = 0
    while stack and seen < 50:
        seen += 1
        node = ctx.target.deref(stack.pop())
        for name, sub in node.get("properties", {}).items():
            keys.add(name)
            stack.append(sub)
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])
        for word in ("oneOf", "anyOf"):
            stack.extend(s for s in node.get(word, []) if isinstance(s, dict))
    return keys


def _object_schemas(
    ctx: ScanContext, body: Any, schema: dict[str, Any] | None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, its documented object schema) pairs at the top of a response."""
    if schema is None:
        return []
    if isinstance(body, list) and isinstance(schema.get("items"), dict):
        item_schema = ctx.target.deref(schema["items"])
        return [(o, item_schema) for o in body[:5] if isinstance(o, dict)]
    if isinstance(body, dict):
        return [(body, schema)]
    return []


@dataclass(slots=True)
class Read:
    """A successful JSON read of the scan: its operation, the exchange, where its id came from."""

    op: Operation
    exchange: Exchange
    id_source: str | None = None

    @property
    def label(self) -> str:
        """ "GET /users/{id}"."""
        return op_label(self.op)


async def _responses(ctx: ScanContext) -> list[Read]:
    """Every GET that answered 2xx with JSON: each documented GET read as the user (object
    reads with a harvested id), and every other object read the scan made."""
    if "properties:reads" in ctx.memo:
        return ctx.memo["properties:reads"]
    out: list[Read] = []
    seen: set[bytes] = set()

    def keep(op: Operation, exchange: Exchange, source: str | None) -> None:
        if exchange.ok and exchange.json() is not None and exchange.content not in seen:
            seen.add(exchange.content)
            out.append(Read(op, exchange, source))

    user = ctx.target.user
    for op in ctx.within_budget(read_operations(ctx, None), cost=_RESERVE):
        read = await object_read(ctx, op, user) if path_parameters(op) else None
        if read is not None:
            keep(op, read.exchange, read.id_source)
            continue
        legit = await baseline(ctx, op, user)
        keep(op, legit.exchange, None)
    for read in successful_reads(ctx):
        keep(read.op, read.exchange, read.id_source)
    ctx.memo["properties:reads"] = out
    return out


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _secret_value(value: Any) -> str | None:
    """What a string value looks like when it is a secret (None: nothing secret)."""
    if not isinstance(value, str) or len(value) < 8:
        return None
    for kind, pattern in SECRET_VALUES:
        if pattern.search(value):
            return kind
    digits = re.sub(r"[ -]", "", value)
    if _CARD.fullmatch(value) and 13 <= len(digits) <= 19 and _luhn(digits):
        return "a card number"
    return None


def _leaks(ctx: ScanContext, read: Read) -> list[str]:
    """`path (why)` of every sensitive property in a read's body."""
    documented = _documented_keys(ctx, ctx.target.response_schema(read.op, read.exchange.status))
    hits: dict[str, str] = {}
    for path, key, value in _walk(read.exchange.json()):
        if SENSITIVE.match(key) and (key not in documented or _ALWAYS.search(key)):
            hits.setdefault(path, "name")
        kind = None if key.lower().endswith("id") else _secret_value(value)
        if kind and (key not in documented or kind in _ALWAYS_VALUES):
            hits.setdefault(path, f"value: {kind}")
    return [f"{path} ({why})" for path, why in sorted(hits.items())]


async def _sensitive_fields(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no operation to read responses from")
        return
    responses = await _responses(ctx)
    if not responses:
        ctx.not_tested("no GET operation answered 2xx with JSON to read properties from")
        return
    affected: dict[str, list[str]] = {}
    first: Read | None = None
    sources: dict[str, str] = {}
    for read in responses:
        if read.id_source:
            sources.setdefault(read.label, read.id_source)
            ctx.note(f"{read.label}: object id from {read.id_source}")
        hits = _leaks(ctx, read)
        if hits:
            first = first or read
            bucket = affected.setdefault(read.label, [])
            bucket.extend(h for h in hits if h not in bucket)
    if first is None:
        ctx.note(f"{len(responses)} successful read(s) judged, no sensitive property")
        return
    hits = affected[first.label]
    ctx.report(
        operation=first.label,
        title=f"Sensitive properties in the response of {first.label}",
        description=f"The legitimate response exposes {', '.join(hits[:8])}: values no client "
        "needs (credentials, hashes, card or identity numbers)"
        + (f"; also {', '.join(list(affected)[1:])}" if len(affected) > 1 else "")
        + ".",
        exchange=first.exchange,
        why=f"property names or values {hits[:8]} look like secrets"
        + (f" (object id from {first.id_source})" if first.id_source else ""),
        confidence="firm",
        extra={
            "properties": hits,
            "operations": list(affected),
            "by_operation": affected,
            "id_sources": {k: v for k, v in sources.items() if k in affected},
        },
    )


async def _undocumented_fields(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no schema to compare responses with")
        return
    responses = await _responses(ctx)
    compared = 0
    affected: dict[str, list[str]] = {}
    listed_by: dict[str, list[str]] = {}
    first: Read | None = None
    for read in responses:
        schema = ctx.target.response_schema(read.op, read.exchange.status)
        extras: set[str] = set()
        listed: set[str] = set()
        for obj, obj_schema in _object_schemas(ctx, read.exchange.json(), schema):
            props = obj_schema.get("properties")
            if not isinstance(props, dict) or not props:
                continue
            if obj_schema.get("additionalProperties") not in (None, False):
                continue
            compared += 1
            listed.update(props)
            extras.update(k for k in obj if k not in props)
        if extras:
            first = first or read
            bucket = affected.setdefault(read.label, [])
            bucket.extend(sorted(e for e in extras if e not in bucket))
            listed_by[read.label] = sorted(listed)
    if first is not None:
        extras_first = affected[first.label]
        ctx.report(
            operation=first.label,
            title=f"Undocumented properties in the response of {first.label}",
            description=f"The response carries {extras_first[:8]}, which the documented "
            "schema does not list: the server serialises more than it should"
            + (f"; also {', '.join(list(affected)[1:])}" if len(affected) > 1 else "")
            + ".",
            exchange=first.exchange,
            why=f"documented properties: {listed_by[first.label][:12]}; extra: "
            f"{extras_first[:8]}"
            + (f" (object id from {first.id_source})" if first.id_source else ""),
            extra={
                "properties": extras_first,
                "operations": list(affected),
                "by_operation": affected,
            },
        )
    if not compared:
        ctx.not_tested("no 2xx JSON response with a documented object schema to compare")


async def _mass_assignment(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no request body schema known")
        return
    if not ctx.options.allow_writes:
        ctx.not_tested("allow_writes=False: this probe sends POST/PUT/PATCH requests")
        return
    ops = write_operations(ctx)
    if not ops:
        ctx.not_tested("the description has no write operation with a JSON object body")
        return
    user = ctx.target.user
    for op in ctx.within_budget(ops):
        schema = ctx.target.request_schema(op) or {}
        writable = {
            name
            for name, sub in schema.get("properties", {}).items()
            if not ctx.target.deref(sub).get("readOnly")
        }
        extra = {k: v for k, v in _PRIVILEGED.items() if k not in writable}
        if not extra:
            ctx.note(f"{op_label(op)}: its schema lets clients write every privileged name")
            continue
        legit = await baseline(ctx, op, user)
        if not legit.exchange.ok or not isinstance(legit.built.body, dict):
            ctx.note(f"{op_label(op)}: legitimate write answered {legit.exchange.status}")
            continue
        tampered = await ctx.target.send(legit.built, body={**legit.built.body, **extra})
        echoed = _granted(tampered.json(), extra)
        before = _granted(legit.exchange.json(), extra)
        if tampered.ok and echoed and not before:
            ctx.report(
                operation=op_label(op),
                title=f"Mass assignment of {', '.join(echoed)} on {op_label(op)}",
                description="Privileged properties outside the request schema were accepted "
                "and stored: a client can grant itself rights.",
                exchange=tampered,
                baseline=legit.exchange,
                why=f"the response shows {echoed} with the injected value; the legitimate "
                "write's response did not",
                confidence="confirmed",
            )
        else:
            ctx.note(f"{op_label(op)}: privileged properties -> {tampered.status}, not granted")


def _granted(body: Any, extra: dict[str, Any]) -> list[str]:
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        body = body["data"]
    if not isinstance(body, dict):
        return []
    return [k for k, v in extra.items() if k in body and body[k] == v]


HANDLERS: dict[str, Handler] = {
    "API3.sensitive_fields": _sensitive_fields,
    "API3.undocumented_fields": _undocumented_fields,
    "API3.mass_assignment": _mass_assignment,
}
