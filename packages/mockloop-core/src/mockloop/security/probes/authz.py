"""API1 Broken Object Level Authorization and API5 Broken Function Level Authorization.

BOLA needs two principals that each own an object (`auth.users[].ids`): user A asks for B's
object with A's credentials. It is a flaw only when both legitimate requests succeed, the two
objects differ, and A is handed B's object (the same body B gets, or one naming B's id).

Function level: well-known administrative paths, and documented operations that look
administrative, asked by a non-admin principal (or anonymously); a 2xx that is not the
server's answer to a path that cannot exist is a flaw. Methods the description does not
document (PUT, PATCH, DELETE) answering 2xx are flaws too (only with allow_writes).
"""

from __future__ import annotations

import re

from mockloop.security.probes.selection import baseline, read_operations
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
_ADMINISH = re.compile(r"(?i)(^|/)(admin|internal|debug|manage|management|superuser|root)\b")


async def _object_ids(ctx: ScanContext) -> None:
    users = [u for u in ctx.target.users if u.ids]
    if len(users) < 2:
        ctx.not_tested(
            "needs two principals that each own an object: give auth.users as two identities "
            'with credentials and "ids" (path parameter -> the id of an object they own)'
        )
        return
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no operation with an object id parameter is known")
        return
    a, b = users[0], users[1]
    ops = []
    for op in ctx.target.operations:
        names = [p.name for p in op.parameters if p.location == "path"]
        if op.method.upper() == "GET" and names and all(n in a.ids and n in b.ids for n in names):
            ops.append(op)
    if not ops:
        ctx.not_tested(
            f"no GET operation whose path parameters are all among the ids given for "
            f"{a.name} and {b.name} ({sorted(a.ids)})"
        )
        return
    for op in ops[:4]:
        label = op_label(op)
        own_a = await baseline(ctx, op, a)
        own_b = await baseline(ctx, op, b)
        if not (own_a.exchange.ok and own_b.exchange.ok):
            ctx.note(
                f"{label}: legitimate requests answered {own_a.exchange.status} "
                f"({a.name}) and {own_b.exchange.status} ({b.name}); inconclusive"
            )
            continue
        if own_a.exchange.content == own_b.exchange.content:
            ctx.note(f"{label}: {a.name} and {b.name} see the same body; inconclusive")
            continue
        cross = await ctx.target.send(ctx.target.build(op, a, values=dict(b.ids)))
        if not cross.ok:
            ctx.note(f"{label}: {a.name} asking for {b.name}'s object -> {cross.status}")
            continue
        identical = cross.content == own_b.exchange.content
        names_b = any(str(v) in cross.text for v in b.ids.values())
        if identical or (names_b and cross.content != own_a.exchange.content):
            ctx.report(
                operation=label,
                title=f"{a.name} can read {b.name}'s object",
                description=f"With {a.name}'s credentials, {label} returned the object that "
                f"belongs to {b.name}: the server does not check who owns the object.",
                exchange=cross,
                baseline=own_b.exchange,
                why=(
                    f"{a.name}'s request for {b.name}'s id answered {cross.status} with "
                    + (
                        "exactly the body " + b.name + " gets"
                        if identical
                        else f"a body naming {b.name}'s id"
                    )
                    + f"; {a.name}'s own object differs"
                ),
                confidence="confirmed" if identical else "firm",
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
    for op in read_operations(ctx, 3):
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
