"""API7 Server Side Request Forgery: URL-typed parameters pointed at the out-of-band canary.

Parameters are URL-typed by format (uri, url, uri-reference) or by name (url, callback,
webhook, target, ...). The only proof accepted is the canary receiving the one-time token
the probe sent: an answer code proves nothing either way. The canary listens on this
machine's loopback, so a target elsewhere cannot reach it: the probe is then not tested.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from mockloop.security.canary import Canary
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label
from mockloop.spec import Operation

__all__ = ["HANDLERS", "url_fields"]

_URLISH = re.compile(
    r"(?i)^(.*_)?(url|uri|href|link|callback|callback_?url|webhook|webhook_?url|target|"
    r"endpoint|feed|image_?url|avatar_?url|src|source_?url|fetch|proxy|redirect_?uri|dest)$"
)
_WAIT = 1.5


def _is_url(ctx: ScanContext, name: str, schema: object) -> bool:
    resolved = ctx.target.deref(schema)
    if resolved.get("format") in ("uri", "url", "uri-reference", "iri"):
        return True
    return resolved.get("type") in (None, "string") and bool(_URLISH.match(name))


def url_fields(ctx: ScanContext, op: Operation) -> list[tuple[str, str]]:
    """(location, name) of the URL-typed query parameters and top-level body properties."""
    out = [
        ("query", p.name)
        for p in op.parameters
        if p.location == "query" and _is_url(ctx, p.name, p.schema)
    ]
    schema = ctx.target.request_schema(op)
    if schema:
        out += [
            ("body", name)
            for name, sub in schema.get("properties", {}).items()
            if _is_url(ctx, name, sub)
        ]
    return out


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _url_parameters(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no URL-typed parameter is known")
        return
    if not _loopback(ctx.target.base_url):
        ctx.not_tested(
            "the canary listens on this machine's loopback, which a remote target cannot "
            "reach: a miss would prove nothing"
        )
        return
    fields = [(op, loc, name) for op in ctx.target.operations for loc, name in url_fields(ctx, op)]
    if not ctx.options.allow_writes:
        fields = [f for f in fields if f[0].method.upper() == "GET"]
    if not fields:
        ctx.not_tested("no URL-typed parameter or body property in the description")
        return
    user = ctx.target.user
    async with Canary() as canary:
        for op, location, name in ctx.within_budget(fields):
            url, token = canary.url()
            built = ctx.target.build(op, user)
            if location == "query":
                answer = await ctx.target.send(built, query={**built.query, name: url})
            else:
                body = dict(built.body) if isinstance(built.body, dict) else {}
                answer = await ctx.target.send(built, body={**body, name: url})
            hit = await canary.wait_for(token, _WAIT)
            label = op_label(op)
            if hit is None:
                ctx.note(f"{label} {location} {name}: no canary hit ({answer.status})")
                continue
            full_read = Canary.marker(token) in answer.text
            ctx.report(
                operation=label,
                title=f"Server-side request forgery through {name} of {label}",
                description=f"The server fetched the URL given in {location} field {name!r}: "
                f"the canary received {hit.method} {hit.path}"
                + (" and the response returned what it fetched" if full_read else "")
                + ". Attackers can make it reach internal services and cloud metadata.",
                exchange=answer,
                why=f"the canary got the one-time token {token} from "
                f"{hit.user_agent or 'an unnamed client'}",
                severity="critical" if full_read else None,
                confidence="confirmed",
                extra={
                    "canary": {
                        "method": hit.method,
                        "path": hit.path,
                        "user_agent": hit.user_agent,
                        "full_read": full_read,
                    }
                },
            )


HANDLERS: dict[str, Handler] = {"API7.url_parameters": _url_parameters}
