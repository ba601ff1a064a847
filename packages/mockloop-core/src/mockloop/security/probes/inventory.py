"""API9 Improper Inventory Management: undocumented API versions and variants still served,
and documentation endpoints that describe operations the given description does not.

For every documented GET path (its parameters filled in), the neighbours the description does
not list are requested: the version segment changed, removed or added (/v1/x -> /v0/x, /v2/x,
/x; /x -> /v1/x), and internal/beta/legacy/old/dev variants (/internal/x, /v1-beta/x). One
answering 2xx with a body unlike the server's answer to a path that cannot exist is a flaw;
one finding lists every such variant. The sweep spends at most a share of the budget.

A documentation endpoint is a flaw only when it serves a description listing operations the
given description lacks (a shadow or stale API); public docs that agree with the description
are noted, not reported.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from mockloop.security.probes.selection import baseline, read_operations, strip_credentials
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import BuiltRequest, op_label

__all__ = ["DOC_PATHS", "HANDLERS", "variants"]

DOC_PATHS = (
    "/openapi.json",
    "/openapi.yaml",
    "/swagger.json",
    "/swagger.yaml",
    "/api-docs",
    "/v2/api-docs",
    "/v3/api-docs",
    "/api/openapi.json",
    "/api/swagger.json",
    "/internal/openapi.json",
    "/.well-known/openapi.json",
    "/docs",
    "/swagger-ui.html",
    "/redoc",
)
_PARAM = re.compile(r"\{[^}]+\}")
_VERSION_SEGMENT = re.compile(r"^v(\d+)$", re.IGNORECASE)
_TAGS = ("internal", "beta", "legacy", "old", "dev")


def variants(path: str) -> list[str]:
    """Undocumented neighbours of a concrete path: its version segment changed, removed or
    added, and `internal`/`beta`/`legacy`/`old`/`dev` variants of it."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return []
    at = next((i for i, s in enumerate(segments) if _VERSION_SEGMENT.match(s)), None)
    out: list[list[str]] = []
    if at is not None:
        current = int(_VERSION_SEGMENT.match(segments[at]).group(1))  # type: ignore[union-attr]
        head, rest = segments[:at], segments[at + 1 :]
        for n in (current - 1, current + 1, 1, 2):
            if n >= 0 and n != current:
                out.append([*head, f"v{n}", *rest])
        out.append([*head, f"v{current}-beta", *rest])
        out.append([*head, *rest])
        out.extend([*head, tag, *rest] for tag in _TAGS)
    else:
        head = segments[:1] if segments[0].lower() == "api" and len(segments) > 1 else []
        rest = segments[len(head) :]
        out.extend([*head, f"v{n}", *rest] for n in (1, 2, 0))
        if not head:
            out.extend((["api", "v1", *rest], ["api", *rest]))
        out.append([*head, "v1-beta", *rest])
        out.extend([*head, tag, *rest] for tag in _TAGS)
    found = ("/" + "/".join(v) for v in out if v)
    return list(dict.fromkeys(v for v in found if v != path))


async def _versions(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: nothing says which versions are documented")
        return
    user = ctx.target.user
    ops = read_operations(ctx)
    if not ops:
        ctx.not_tested("no documented GET operation to vary")
        return
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(ctx.target.base_url))
    base = urlsplit(ctx.target.base_url).path.rstrip("/")
    hits: list[tuple[str, str, int, bool]] = []  # variant, documented op, status, open
    proof: tuple[Exchange, Exchange] | None = None
    seen: set[str] = set()
    left = 0
    for op in ctx.within_budget(ops, cost=len(_TAGS) + 6):
        legit = await baseline(ctx, op, user)
        full = base + legit.built.path
        for variant in variants(full):
            relative = variant[len(base) :] if base and variant.startswith(base + "/") else variant
            if variant in seen or ctx.target.documented(relative, "GET"):
                continue
            if ctx.http.remaining - 2 < ctx.reserve:
                left += 1
                continue
            seen.add(variant)
            built = BuiltRequest(
                "GET",
                origin + variant,
                variant,
                dict(legit.built.query),
                dict(legit.built.headers),
                None,
            )
            answer = await ctx.target.send(built)
            if not await ctx.target.is_real(answer):
                continue
            open_door = False
            if user is not None and ctx.target.requires_auth(op):
                anonymous = await ctx.target.send(
                    built, headers=strip_credentials(built.headers, user), query={}
                )
                open_door = anonymous.ok
                if open_door and (proof is None or not proof[0].ok):
                    proof = (anonymous, legit.exchange)
            if proof is None:
                proof = (answer, legit.exchange)
            hits.append((variant, op_label(op), answer.status, open_door))
    if left:
        ctx.note(f"{left} variant(s) left for lack of budget")
    ctx.note(f"{len(seen)} undocumented variant(s) requested")
    if not hits or proof is None:
        return
    listed = [f"GET {v} ({s}, like {o}{', no credentials needed' if d else ''})"
              for v, o, s, d in hits]  # fmt: skip
    open_door = any(d for *_, d in hits)
    ctx.report(
        operation=f"GET {hits[0][0]}",
        title=f"{len(hits)} undocumented API version(s) or variant(s) still served",
        description="Paths next to documented ones that the description does not list answer "
        f"2xx: {'; '.join(listed[:8])}. An unmaintained version or an internal variant keeps "
        "the flaws the current one fixed"
        + (", and some need no credentials" if open_door else "")
        + ".",
        exchange=proof[0],
        baseline=proof[1],
        why=f"{len(hits)} undocumented variant(s) answered 2xx unlike a path that cannot exist"
        + ("; some also with no credentials" if open_door else ""),
        severity="high" if open_door else None,
        extra={
            "undocumented_variants": [v for v, *_ in hits],
            "variants": [
                {"path": v, "documented_neighbour": o, "status": s, "no_credentials": d}
                for v, o, s, d in hits
            ],
        },
    )


def _description(text: str) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and isinstance(data.get("paths"), dict):
        return data
    return None


def _shape(method: str, path: str) -> str:
    return f"{method.upper()} {_PARAM.sub('{}', path.rstrip('/') or '/')}"


async def _docs(ctx: ScanContext) -> None:
    known = {_shape(op.method, op.path) for op in ctx.target.operations}
    spec_path = ctx.target.spec_url[len(ctx.target.base_url) :] if ctx.target.spec_url else None
    for path in DOC_PATHS:
        if path == spec_path or ctx.target.documented(path):
            continue
        answer = await ctx.target.get(path, ctx.target.user)
        if not await ctx.target.is_real(answer):
            continue
        document = _description(answer.text)
        if document is None:
            ctx.note(f"{path}: documentation page ({answer.status})")
            continue
        listed = {
            _shape(method, p)
            for p, item in document["paths"].items()
            if isinstance(item, dict)
            for method in item
            if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options")
        }
        if ctx.target.spec is None:
            ctx.note(f"{path}: serves a description of {len(listed)} operation(s)")
            continue
        shadow = sorted(listed - known)
        if shadow:
            ctx.report(
                operation=f"GET {path}",
                title=f"{path} describes {len(shadow)} undocumented operation(s)",
                description=f"{path} serves an API description listing operations the given "
                f"description lacks ({', '.join(shadow[:6])}): shadow or stale endpoints "
                "nobody inventories.",
                exchange=answer,
                why=f"{len(shadow)} operation(s) listed at {path} are not in the description",
                extra={"undocumented_operations": shadow[:50]},
            )
        else:
            ctx.note(f"{path}: a description that agrees with the given one")


HANDLERS: dict[str, Handler] = {"API9.versions": _versions, "API9.docs": _docs}
