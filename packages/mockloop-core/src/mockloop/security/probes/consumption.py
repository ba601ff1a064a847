"""API4 Unrestricted Resource Consumption: a burst with no throttling, page sizes beyond the
documented maximum, and bodies of megabytes accepted.

The burst is one finding per target at most, and only when nearly every answer was 2xx with
no 429 and no rate-limit header: a limit that a burst of this size at this rate does not
reach goes unseen, which the finding says. Page size is a flaw when more items come back than
the documented maximum (or, with none documented, over 1000 items or 1 MB). A body of
megabytes is a flaw when it is answered 2xx instead of 413 (or any refusal).
"""

from __future__ import annotations

import re
import time
from typing import Any

from mockloop.security.probes.selection import baseline, read_operations, write_operations
from mockloop.security.runner import BudgetExhausted, Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label

__all__ = ["HANDLERS", "count_items"]

_PAGE = re.compile(
    r"(?i)^(limit|size|page_?size|per_?page|pagesize|count|max|max_?results|top|take|"
    r"\$top|first|n)$"
)
_HUGE_PAGE = 100_000
_UNCAPPED_ITEMS = 1000
_UNCAPPED_BYTES = 1024 * 1024


def count_items(body: Any) -> int | None:
    """How many items a list response holds (a bare list, or the first list in an object)."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        for key in ("items", "data", "results", "records", "content", "values"):
            if isinstance(body.get(key), list):
                return len(body[key])
        for value in body.values():
            if isinstance(value, list):
                return len(value)
    return None


def _throttled(exchange: Exchange) -> bool:
    if exchange.status == 429 or (exchange.status == 503 and exchange.header("retry-after")):
        return True
    return any(
        name.startswith(("ratelimit", "x-ratelimit", "x-rate-limit"))
        for name in exchange.response_headers
    )


async def _rate_limit(ctx: ScanContext) -> None:
    user = ctx.target.user
    built = None
    label = "GET /"
    for op in read_operations(ctx, 8):
        legit = await baseline(ctx, op, user)
        if legit.exchange.ok:
            built, label = legit.built, legit.label
            break
    if built is None:
        built = ctx.target.build_path("GET", "/", user)
    burst = ctx.options.burst
    if ctx.http.remaining < burst:
        raise BudgetExhausted
    started = time.monotonic()
    answers = [await ctx.target.send(built) for _ in range(burst)]
    took = time.monotonic() - started
    rate = burst / took if took > 0 else float(burst)
    limited = [a for a in answers if _throttled(a)]
    ok = sum(1 for a in answers if a.ok)
    if limited:
        refused = [i for i, a in enumerate(answers) if a.status in (429, 503)]
        if refused:
            first = refused[0]
            ctx.note(
                f"{label}: refused from request {first + 1} of {burst} ({answers[first].status})"
            )
        else:
            ctx.note(f"{label}: limits advertised in rate-limit headers, none reached in {burst}")
        return
    if ok < 0.9 * burst:
        ctx.note(f"{label}: only {ok}/{burst} answers were 2xx; inconclusive")
        return
    ctx.report(
        operation=label,
        title="No rate limiting observed",
        description=f"{burst} requests to {label} at {rate:.0f} requests/s were all served: "
        "no 429, no Retry-After, no RateLimit headers. A limit above this burst goes unseen.",
        exchange=answers[-1],
        baseline=answers[0],
        why=f"{ok}/{burst} answers 2xx in {took:.2f} s; none throttled or advertising a limit",
        extra={"burst": burst, "seconds": round(took, 3), "rps": round(rate, 1)},
    )


async def _page_size(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no paginated operation known")
        return
    user = ctx.target.user
    tried = 0
    paged = []
    for op in read_operations(ctx):
        param = next(
            (p for p in op.parameters if p.location == "query" and _PAGE.match(p.name)), None
        )
        if param is not None and ctx.target.deref(param.schema).get("type") in (
            None,
            "integer",
            "number",
        ):
            paged.append((op, param))
    for op, param in ctx.within_budget(paged, cost=2):
        schema = ctx.target.deref(param.schema)
        tried += 1
        legit = await baseline(ctx, op, user)
        maximum = schema.get("maximum")
        built = ctx.target.build(op, user, values={param.name: str(_HUGE_PAGE)})
        answer = await ctx.target.send(built)
        items = count_items(answer.json()) if answer.ok else None
        label = op_label(op)
        if items is None:
            ctx.note(f"{label}: {param.name}={_HUGE_PAGE} -> {answer.status}")
            continue
        over_max = isinstance(maximum, int | float) and items > maximum
        uncapped = maximum is None and (
            items > _UNCAPPED_ITEMS or len(answer.content) > _UNCAPPED_BYTES
        )
        if over_max or uncapped:
            limit = f"the documented maximum {maximum}" if over_max else "any sane page"
            ctx.report(
                operation=label,
                title=f"Page size {param.name}={_HUGE_PAGE} accepted",
                description=f"{label} returned {items} items ({len(answer.content)} bytes) for "
                f"{param.name}={_HUGE_PAGE}, beyond {limit}: one request can make the server "
                "read and serialise its whole table.",
                exchange=answer,
                baseline=legit.exchange,
                why=f"{items} items returned; documented maximum: {maximum}",
            )
        else:
            ctx.note(f"{label}: {param.name}={_HUGE_PAGE} -> {answer.status}, {items} items")
    if not tried:
        ctx.not_tested("no GET operation with a numeric page-size query parameter")


def _padded(ctx: ScanContext, body: dict[str, Any], schema: dict[str, Any], size: int) -> bytes:
    import json

    padded = dict(body)
    target = next(
        (
            name
            for name, sub in schema.get("properties", {}).items()
            if ctx.target.deref(sub).get("type") == "string"
            and not ctx.target.deref(sub).get("format")
        ),
        "mockloop_padding",
    )
    padded[target] = "A" * size
    return json.dumps(padded).encode()


async def _payload_size(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no operation that takes a body is known")
        return
    if not ctx.options.allow_writes:
        ctx.not_tested("allow_writes=False: this probe sends POST/PUT/PATCH requests")
        return
    ops = write_operations(ctx)
    if not ops:
        ctx.not_tested("the description has no write operation with a JSON object body")
        return
    user = ctx.target.user
    size = ctx.options.payload_bytes
    for op in ctx.within_budget(ops, cost=2):
        legit = await baseline(ctx, op, user)
        if not isinstance(legit.built.body, dict):
            continue
        content = _padded(ctx, legit.built.body, ctx.target.request_schema(op) or {}, size)
        headers = {**legit.built.headers, "Content-Type": "application/json"}
        answer = await ctx.target.send(legit.built, content=content, headers=headers, timeout=30)
        label = op_label(op)
        if answer.ok:
            ctx.report(
                operation=label,
                title=f"A {len(content) // 1024} KiB body accepted by {label}",
                description=f"{label} accepted a request body of {len(content)} bytes with "
                f"{answer.status}; without a size limit a few such requests exhaust memory.",
                exchange=answer,
                baseline=legit.exchange,
                why=f"{len(content)}-byte body answered {answer.status} (expected 413)",
            )
        else:
            ctx.note(f"{label}: {len(content)}-byte body -> {answer.status}")


HANDLERS: dict[str, Handler] = {
    "API4.rate_limit": _rate_limit,
    "API4.page_size": _page_size,
    "API4.payload_size": _payload_size,
}
