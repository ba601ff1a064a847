"""API2 Broken Authentication: secured operations asked without credentials, with a malformed
token, with an expired JWT and with an unsigned `alg: none` JWT.

An operation counts as secured when the description requires security for it, or (without a
description, or for the base URL) when it answers 2xx with the given credentials and 401/403
without them. A tampered credential is a flaw only when the answer is 2xx while the same
operation without credentials is refused: an operation open to anyone is reported once, by
the no-credentials probe, not four times.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from mockloop.security.ids import object_read, path_parameters
from mockloop.security.probes.selection import baseline, read_operations, strip_credentials
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import BuiltRequest

__all__ = ["HANDLERS", "craft_jwt"]

#: Requests kept back when choosing operations: the probes that read them need some too.
_RESERVE = 4


@dataclass(slots=True)
class Secured:
    """One secured operation, its legitimate answer (if credentials were given) and how its
    credentials travel."""

    label: str
    built: BuiltRequest
    declared: bool
    scheme: str  # bearer, basic, apikey-header, apikey-query
    key_name: str
    anonymous: Exchange | None = None
    legit: Exchange | None = None
    id_source: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str | None) -> dict[str, Any]:
    if token and token.count(".") == 2:
        try:
            payload = token.split(".")[1]
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            if isinstance(data, dict):
                return data
        except ValueError:
            pass
    return {"sub": "1", "role": "user"}


def craft_jwt(claims: dict[str, Any], alg: str) -> str:
    """A JWT with these claims: `alg="none"` unsigned, else HS256 under a random key."""
    header = {"alg": alg, "typ": "JWT"}
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    if alg == "none":
        return f"{head}.{body}."
    import hashlib
    import hmac

    signature = hmac.new(secrets.token_bytes(32), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{_b64(signature.digest())}"


def _scheme(ctx: ScanContext, security: list[dict[str, list[str]]]) -> tuple[str, str]:
    spec = ctx.target.spec
    for requirement in security:
        for name in requirement:
            scheme = spec.security_schemes.get(name) if spec else None
            if scheme is None:
                continue
            if scheme.type == "apiKey" and scheme.param_name:
                where = "query" if scheme.location == "query" else "header"
                return f"apikey-{where}", scheme.param_name
            if scheme.type == "http" and (scheme.scheme or "").lower() == "basic":
                return "basic", "Authorization"
            return "bearer", "Authorization"
    return "bearer", "Authorization"


async def _secured(ctx: ScanContext) -> list[Secured]:
    if "authn:secured" in ctx.memo:
        return ctx.memo["authn:secured"]
    user = ctx.target.user
    found: list[Secured] = []
    if ctx.target.spec is not None:
        candidates = [
            op
            for op in read_operations(ctx, len(ctx.target.operations))
            if ctx.target.requires_auth(op)
        ]
        for op in candidates:
            if ctx.http.remaining <= _RESERVE:
                ctx.note(f"budget nearly spent: {len(candidates) - len(found)} secured GET(s) left")
                break
            scheme, key = _scheme(ctx, op.security)
            if user is not None and path_parameters(op):
                read = await object_read(ctx, op, user)
                if read is not None:
                    found.append(
                        Secured(
                            read.label,
                            read.built,
                            True,
                            scheme,
                            key,
                            legit=read.exchange,
                            id_source=read.id_source,
                        )
                    )
                    continue
                ctx.note(f"GET {op.path}: no harvested id answered 2xx; generated values used")
            legit = await baseline(ctx, op, user) if user else None
            built = legit.built if legit else ctx.target.build(op, None)
            found.append(
                Secured(
                    legit.label if legit else f"GET {op.path}",
                    built,
                    True,
                    scheme,
                    key,
                    legit=legit.exchange if legit else None,
                )
            )
    elif user is not None:
        built = ctx.target.build_path("GET", "/", user)
        legit = await ctx.target.send(built)
        anonymous = await ctx.target.send(
            built, headers=strip_credentials(built.headers, user), query={}
        )
        if legit.ok and anonymous.status in (401, 403):
            scheme = "bearer" if user.bearer() else "apikey-header"
            key = "Authorization" if user.bearer() else next(iter(user.headers), "Authorization")
            found.append(Secured("GET /", built, False, scheme, key, anonymous, legit))
    ctx.memo["authn:secured"] = found
    return found


def _id_sources(items: list[Secured]) -> dict[str, str]:
    """Operation label -> where its object id came from, for the object reads among `items`."""
    return {i.label: i.id_source for i in items if i.id_source}


def _note_ids(ctx: ScanContext, items: list[Secured]) -> None:
    for label, source in _id_sources(items).items():
        ctx.note(f"{label}: object id from {source}")


def _with_credential(ctx: ScanContext, item: Secured, value: str | None) -> dict[str, Any]:
    """Overrides for the built request: its credentials replaced by `value` (None: none)."""
    user = ctx.target.user
    headers = strip_credentials(item.built.headers, user)
    headers = {k: v for k, v in headers.items() if k.lower() != item.key_name.lower()}
    query = {k: v for k, v in item.built.query.items() if not (user and k in user.query)}
    if value is not None:
        if item.scheme == "apikey-query":
            query[item.key_name] = value
        elif item.scheme == "bearer":
            headers["Authorization"] = f"Bearer {value}"
        elif item.scheme == "basic":
            headers["Authorization"] = f"Basic {value}"
        else:
            headers[item.key_name] = value
    return {"headers": headers, "query": query}


async def _anonymous(ctx: ScanContext, item: Secured) -> Exchange:
    if item.anonymous is None:
        item.anonymous = await ctx.target.send(item.built, **_with_credential(ctx, item, None))
    return item.anonymous


async def _no_credentials(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested(
            "no API description: nothing says which operations require credentials (the "
            "tampered-token probes still test the base URL when credentials are given)"
        )
        return
    secured = await _secured(ctx)
    if not secured:
        ctx.not_tested("the description declares no secured GET operation")
        return
    _note_ids(ctx, secured)
    open_ops = []
    for item in ctx.within_budget(secured):
        answer = await _anonymous(ctx, item)
        if answer.ok:
            open_ops.append((item, answer))
        else:
            ctx.note(f"{item.label}: no credentials -> {answer.status}")
    if open_ops:
        item, answer = open_ops[0]
        labels = [i.label for i, _ in open_ops]
        ctx.report(
            operation=item.label,
            title="Secured operations answer without credentials",
            description=f"The description requires credentials for {', '.join(labels)}, but "
            "the server answered 2xx to requests carrying none.",
            exchange=answer,
            baseline=item.legit,
            why=f"request without credentials answered {answer.status} ({len(open_ops)} of "
            f"{len(secured)} secured operation(s) alike); the description declares security",
            operations=labels,
            extra={"operations": labels, "id_sources": _id_sources([i for i, _ in open_ops])},
        )


async def _tampered(ctx: ScanContext, kind: str) -> None:
    secured = await _secured(ctx)
    if not secured:
        reason = (
            "the description declares no secured GET operation"
            if ctx.target.spec is not None
            else "no API description and no credentials that make the base URL answer "
            "2xx where it refuses anonymous requests"
        )
        ctx.not_tested(reason)
        return
    _note_ids(ctx, secured)
    user = ctx.target.user
    tested = 0
    accepted: list[tuple[Secured, Exchange, Exchange]] = []
    for item in ctx.within_budget(secured):
        if kind != "malformed" and item.scheme != "bearer":
            ctx.note(f"{item.label}: its {item.scheme} credentials are no JWT")
            continue
        anonymous = await _anonymous(ctx, item)
        if anonymous.ok:
            ctx.note(f"{item.label}: open without credentials (reported by API2.no_credentials)")
            continue
        tested += 1
        claims = _claims(user.bearer() if user else None)
        now = int(time.time())
        if kind == "malformed":
            value = {
                "bearer": "mockloop.malformed.token",
                "basic": base64.b64encode(b"mockloop:not-the-password").decode(),
            }.get(item.scheme, "mockloop-malformed-key")
        elif kind == "expired":
            value = craft_jwt({**claims, "iat": now - 7200, "exp": now - 3600}, "HS256")
        else:
            value = craft_jwt({**claims, "iat": now, "exp": now + 3600}, "none")
        answer = await ctx.target.send(item.built, **_with_credential(ctx, item, value))
        if answer.ok:
            accepted.append((item, answer, anonymous))
        else:
            ctx.note(f"{item.label}: {kind} token -> {answer.status}")
    if accepted:
        # One flaw of the token check, however many operations show it: one finding.
        item, answer, anonymous = accepted[0]
        what = {
            "malformed": "a malformed token",
            "expired": "an expired JWT signed with a key the server cannot know",
            "none": "an unsigned JWT (alg: none)",
        }[kind]
        labels = [a[0].label for a in accepted]
        ctx.report(
            operation=item.label,
            title=f"Authentication accepts {what}",
            description=f"{', '.join(labels)} refuse anonymous requests but answered 2xx to "
            f"{what}: the server does not verify tokens.",
            exchange=answer,
            baseline=anonymous,
            why=f"{item.label}: anonymous request -> {anonymous.status}, {what} -> "
            f"{answer.status} ({len(accepted)} of {tested} operation(s) alike)",
            confidence="confirmed",
            operations=labels,
            extra={"operations": labels, "id_sources": _id_sources([a[0] for a in accepted])},
        )
    if not tested:
        ctx.not_tested("no secured operation refuses anonymous requests with a JWT-style scheme")


async def _malformed(ctx: ScanContext) -> None:
    await _tampered(ctx, "malformed")


async def _expired(ctx: ScanContext) -> None:
    await _tampered(ctx, "expired")


async def _alg_none(ctx: ScanContext) -> None:
    await _tampered(ctx, "none")


HANDLERS: dict[str, Handler] = {
    "API2.no_credentials": _no_credentials,
    "API2.malformed_token": _malformed,
    "API2.expired_jwt": _expired,
    "API2.alg_none_jwt": _alg_none,
}
