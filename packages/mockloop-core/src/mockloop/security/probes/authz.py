"""API1 Broken Object Level Authorization and API5 Broken Function Level Authorization.

BOLA needs two principals and an object B owns: the ids B declared (`auth.users[].ids`) or,
without them, an object B created through the sibling collection (`POST /things`, only with
allow_writes). User A asks for B's object with A's credentials. It is a flaw only when B's
legitimate read succeeds, A's own object (if known) differs, anonymous requests for it are
refused, and A is handed B's object (the same body B gets, or one naming B's id).

Function level: well-known administrative paths, and documented operations that look
administrative, asked by a non-admin principal (or anonymously); a 2xx that is not the
server's answer to a path that cannot exist is a flaw. Methods the description does not
document (PUT, PATCH, DELETE) answering 2xx are flaws too (only with allow_writes).
"""

from __future__ import annotations

import re

from mockloop.security.ids import ObjectRead, owned_read, path_parameters
from mockloop.security.probes.selection import baseline, read_operations, strip_credentials
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label

__all__ = ["ADMIN_PATHS", "HANDLERS"]

ADMIN_PATHS = (
    "/admin",
    "/admin/users",
    "/api/admin",
    "/internal",
    "/debug",
    "/actuator",
    "/actuator/env",
    "/management",
    "/console",
    "/metrics",
)
#: Requests kept back when checking object reads: the probes after this one need some too.
_RESERVE = 4
_ADMINISH = re.compile(r"(?i)(^|/)(admin|internal|debug|manage|management|superuser|root)\b")


async def _object_ids(ctx: ScanContext) -> None:
    principals = [u for u in ctx.target.users if not u.is_admin]
    if len(principals) < 2:
        ctx.not_tested(
            "needs two principals: give auth.users as two identities with credentials (and, "
            'best, "ids": path parameter -> the id of an object each owns; without ids the '
            "scan creates one object per principal when allow_writes is on)"
        )
        return
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no operation with an object id parameter is known")
        return
    with_ids = [u for u in principals if u.ids]
    a, b = (with_ids[0], with_ids[1]) if len(with_ids) >= 2 else (principals[0], principals[1])
    ops = [op for op in read_operations(ctx, len(ctx.target.operations)) if path_parameters(op)]
    if not ops:
        ctx.not_tested("the description has no GET operation with a path parameter")
        return
    hits: list[tuple[ObjectRead, Exchange, bool]] = []
    checked = 0
    for op in ctx.within_budget(ops, cost=_RESERVE):
        label = op_label(op)
        own_b = await owned_read(ctx, op, b)
        if own_b is None:
            ctx.note(f"{label}: no object known to belong to {b.name} reads 2xx")
            continue
        checked += 1
        ctx.note(f"{label}: {b.name}'s object id from {own_b.id_source}")
        own_a = await owned_read(ctx, op, a)
        if own_a is not None and own_a.exchange.content == own_b.exchange.content:
            ctx.note(f"{label}: {a.name} and {b.name} see the same body; inconclusive")
            continue
        cross = await ctx.target.send(ctx.target.build(op, a, values=own_b.values))
        if not cross.ok:
            ctx.note(f"{label}: {a.name} asking for {b.name}'s object -> {cross.status}")
            continue
        identical = cross.content == own_b.exchange.content
        names_b = any(str(v) in cross.text for v in own_b.values.values())
        if not (
            identical or (names_b and (own_a is None or cross.content != own_a.exchange.content))
        ):
            continue
        anonymous = await ctx.target.send(
            own_b.built, headers=strip_credentials(own_b.built.headers, b), query={}
        )
        if anonymous.ok:
            # Anyone reads it: a public object, or missing authentication (API2's finding).
            ctx.note(f"{label}: {b.name}'s object answers without credentials too; not BOLA")
            continue
        hits.append((own_b, cross, identical))
    if hits:
        own_b, cross, identical = hits[0]
        labels = [h[0].label for h in hits]
        ctx.report(
            operation=own_b.label,
            title=f"{a.name} can read {b.name}'s object",
            description=f"With {a.name}'s credentials, {', '.join(labels)} returned the object "
            f"that belongs to {b.name}: the server does not check who owns the object.",
            exchange=cross,
            baseline=own_b.exchange,
            why=(
                f"{a.name}'s request for {b.name}'s id ({own_b.id_source}) answered "
                f"{cross.status} with "
                + (
                    "exactly the body " + b.name + " gets"
                    if identical
                    else f"a body naming {b.name}'s id"
                )
                + f"; {a.name}'s own object differs and anonymous requests are refused"
            ),
            confidence="confirmed" if identical and own_b.id_source == "auth" else "firm",
            extra={
                "operations": labels,
                "id_sources": {h[0].label: h[0].id_source for h in hits},
            },
        )
    elif not checked:
        ctx.not_tested(
            f"no object known to belong to {b.name} could be read: give auth.users[].ids, or "
            "allow writes so that the scan creates one per principal"
        )


async def _admin_paths(ctx: ScanContext) -> None:
    principal = ctx.target.user
    who = principal.name if principal else "an anonymous client"
    checked = 0
    for path in ADMIN_PATHS:
        if ctx.target.documented(path):
            continue
        checked += 1
        answer = await ctx.target.get(path, principal)
        if await ctx.target.is_real(answer):
            ctx.report(
                operation=f"GET {path}",
                title=f"Administrative path {path} open to a non-admin",
                description=f"{path} is not in the description and answered {answer.status} "
                f"to {who}; administrative functions must be denied to non-admins.",
                exchange=answer,
                baseline=await ctx.target.not_found(),
                why=f"{who} got {answer.status} with a body unlike the server's answer to a "
                "path that cannot exist (the baseline)",
                severity="medium" if path == "/metrics" else None,
            )
    for op in ctx.target.operations:
        if op.method.upper() != "GET" or not (
            _ADMINISH.search(op.path) or any(t.lower() == "admin" for t in op.tags)
        ):
            continue
        checked += 1
        answer = await ctx.target.send(ctx.target.build(op, principal))
        admin_ok = False
        if answer.ok and ctx.target.admin is not None:
            # An admin answered alike: the operation works, and a non-admin reached it too.
            admin_ok = (await ctx.target.send(ctx.target.build(op, ctx.target.admin))).ok
        if answer.ok:
            ctx.report(
                operation=op_label(op),
                title=f"Administrative operation {op_label(op)} open to a non-admin",
                description=f"{op_label(op)} looks administrative (its path or tag) and "
                f"answered {answer.status} to {who}.",
                exchange=answer,
                why=f"{who} got {answer.status}; judged administrative by its name"
                + (", and the admin principal gets it too" if admin_ok else " only"),
                confidence="firm" if admin_ok else "tentative",
            )
    ctx.note(f"{checked} administrative path(s) asked as {who}")


async def _undocumented_methods(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: nothing says which methods are documented")
        return
    if not ctx.options.allow_writes:
        ctx.not_tested("allow_writes=False: this probe sends PUT, PATCH and DELETE")
        return
    principal = ctx.target.user
    documented: dict[str, set[str]] = {}
    for op in ctx.target.operations:
        documented.setdefault(op.path, set()).add(op.method.upper())
    for op in ctx.within_budget(read_operations(ctx), cost=3):
        legit = await baseline(ctx, op, principal)
        for method in ("PUT", "PATCH", "DELETE"):
            if method in documented.get(op.path, set()):
                continue
            answer = await ctx.target.send(
                legit.built, method=method, body={} if method != "DELETE" else None
            )
            if answer.ok:
                ctx.report(
                    operation=f"{method} {op.path}",
                    title=f"Undocumented method {method} accepted on {op.path}",
                    description=f"The description documents {sorted(documented[op.path])} on "
                    f"{op.path}, but {method} answered {answer.status}.",
                    exchange=answer,
                    baseline=legit.exchange,
                    why=f"{method} is not documented for {op.path} and answered "
                    f"{answer.status} (expected 404/405)",
                )
            else:
                ctx.note(f"{method} {op.path} -> {answer.status}")


HANDLERS: dict[str, Handler] = {
    "API1.object_ids": _object_ids,
    "API5.admin_paths": _admin_paths,
    "API5.undocumented_methods": _undocumented_methods,
}
