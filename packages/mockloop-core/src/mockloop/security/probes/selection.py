"""Which operations a probe works on, and the legitimate baselines probes compare against."""

from __future__ import annotations

from mockloop.security.identities import Identity
from mockloop.security.runner import Exchange
from mockloop.security.scan import ScanContext
from mockloop.security.target import BuiltRequest, op_label
from mockloop.spec import Operation

__all__ = ["Baseline", "baseline", "read_operations", "strip_credentials", "write_operations"]

_WRITE = ("POST", "PUT", "PATCH")


def read_operations(ctx: ScanContext, limit: int | None = None) -> list[Operation]:
    """GET operations, riskiest first (`ScanContext.risk`: secured, then object reads by
    id), the ones with fewer path parameters first among equals; `limit` keeps the first
    ones (None: all of them; probes walk them with `ctx.within_budget`)."""
    ops = [op for op in ctx.target.operations if op.method.upper() == "GET"]
    ops.sort(key=lambda op: (-ctx.risk(op), op.path.count("{")))
    return ops if limit is None else ops[:limit]


def write_operations(ctx: ScanContext, limit: int | None = None) -> list[Operation]:
    """POST/PUT/PATCH operations that take a JSON object body, riskiest first (secured,
    then those with free-text fields); `limit` keeps the first ones (None: all)."""
    out = []
    for op in ctx.target.operations:
        if op.method.upper() not in _WRITE:
            continue
        schema = ctx.target.request_schema(op)
        if schema is not None and (schema.get("type") == "object" or "properties" in schema):
            out.append(op)
    out.sort(key=lambda op: -ctx.risk(op))
    return out if limit is None else out[:limit]


def strip_credentials(headers: dict[str, str], identity: Identity | None) -> dict[str, str]:
    """Headers without the identity's credential headers."""
    if identity is None:
        return dict(headers)
    secret = {h.lower() for h in identity.headers}
    return {k: v for k, v in headers.items() if k.lower() not in secret}


class Baseline:
    """A legitimate request for an operation and its answer, sent once per run and shared."""

    def __init__(self, label: str, built: BuiltRequest, exchange: Exchange) -> None:
        self.label = label
        self.built = built
        self.exchange = exchange


async def baseline(ctx: ScanContext, op: Operation, identity: Identity | None) -> Baseline:
    """The operation sent as `identity` with legitimate values (memoised per run)."""
    key = f"baseline:{op.operation_id}:{identity.name if identity else '-'}"
    if key not in ctx.memo:
        built = ctx.target.build(op, identity)
        ctx.memo[key] = Baseline(op_label(op), built, await ctx.target.send(built))
    return ctx.memo[key]
