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
from typing import Any

from mockloop.security.probes.selection import baseline, read_operations, write_operations
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label
from mockloop.spec import Operation

__all__ = ["HANDLERS", "SENSITIVE"]

SENSITIVE = re.compile(
    r"(?i)^(.*_)?(password|passwd|pwd|password_?hash|passhash|hash(ed)?_?password|secret|"
    r"client_?secret|api_?key|private_?key|secret_?key|access_?key|refresh_?token|"
    r"session_?token|otp_?secret|mfa_?secret|totp_?secret|salt|ssn|social_?security(_number)?|"
    r"credit_?card(_number)?|card_?number|cvv|cvc|pin)$"
)
_ALWAYS = re.compile(r"(?i)password|passwd|hash|ssn|social_?security|cvv|cvc|card_?number")
_PRIVILEGED: dict[str, Any] = {"is_admin": True, "isAdmin": True, "admin": True, "role": "admin"}


def _walk(value: Any, path: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """(json path, key) of every object key in a JSON value, a few levels deep."""
    if depth > 4:
        return []
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((f"{path}.{key}" if path else key, key))
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


async def _responses(ctx: ScanContext) -> list[tuple[Operation, Any]]:
    out = []
    for op in read_operations(ctx, 6):
        legit = await baseline(ctx, op, ctx.target.user)
        if legit.exchange.ok:
            data = legit.exchange.json()
            if data is not None:
                out.append((op, legit))
    return out


async def _sensitive_fields(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no operation to read responses from")
        return
    responses = await _responses(ctx)
    if not responses:
        ctx.not_tested("no GET operation answered 2xx with JSON to read properties from")
        return
    for op, legit in responses:
        documented = _documented_keys(ctx, ctx.target.response_schema(op, legit.exchange.status))
        hits = sorted(
            {
                path
                for path, key in _walk(legit.exchange.json())
                if SENSITIVE.match(key) and (key not in documented or _ALWAYS.search(key))
            }
        )
        if hits:
            ctx.report(
                operation=op_label(op),
                title=f"Sensitive properties in the response of {op_label(op)}",
                description=f"The legitimate response exposes {', '.join(hits[:8])}: values "
                "no client needs (credentials, hashes, card or identity numbers).",
                exchange=legit.exchange,
                why=f"property names {hits[:8]} match sensitive-data names",
                confidence="firm",
                extra={"properties": hits},
            )


async def _undocumented_fields(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no schema to compare responses with")
        return
    responses = await _responses(ctx)
    compared = 0
    for op, legit in responses:
        schema = ctx.target.response_schema(op, legit.exchange.status)
        extras: set[str] = set()
        listed: set[str] = set()
        for obj, obj_schema in _object_schemas(ctx, legit.exchange.json(), schema):
            props = obj_schema.get("properties")
            if not isinstance(props, dict) or not props:
                continue
            if obj_schema.get("additionalProperties") not in (None, False):
                continue
            compared += 1
            listed.update(props)
            extras.update(k for k in obj if k not in props)
        if extras:
            ctx.report(
                operation=op_label(op),
                title=f"Undocumented properties in the response of {op_label(op)}",
                description=f"The response carries {sorted(extras)[:8]}, which the documented "
                "schema does not list: the server serialises more than it should.",
                exchange=legit.exchange,
                why=f"documented properties: {sorted(listed)[:12]}; extra: {sorted(extras)[:8]}",
                extra={"properties": sorted(extras)},
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
    for op in ops[:4]:
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
