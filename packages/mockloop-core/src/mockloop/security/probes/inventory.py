"""API9 Improper Inventory Management: undocumented API versions still served, and
documentation endpoints that describe operations the given description does not.

A version variant (/v1/users for a documented /users) is a flaw when it answers 2xx with a
body unlike the server's answer to a path that cannot exist. A documentation endpoint is a
flaw only when it serves a description listing operations the given description lacks (a
shadow or stale API); public docs that agree with the description are noted, not reported.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mockloop.security.probes.selection import baseline, read_operations
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.target import op_label

__all__ = ["DOC_PATHS", "HANDLERS"]

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
_VERSION = re.compile(r"^/(api/)?v(\d+)(?=/|$)")
_PARAM = re.compile(r"\{[^}]+\}")


def _variants(path: str) -> list[str]:
    found = _VERSION.match(path)
    if found:
        rest = path[found.end() :]
        current = int(found.group(2))
        prefix = "/api" if found.group(1) else ""
        out = [f"{prefix}/v{n}{rest}" for n in (current - 1, current + 1, 1) if n > 0]
        out.append(rest or "/")
        return list(dict.fromkeys(v for v in out if v != path))
    return [f"/v1{path}", f"/v2{path}", f"/api/v1{path}", f"/api{path}"]


async def _versions(ctx: ScanContext) -> None:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: nothing says which versions are documented")
        return
    user = ctx.target.user
    ops = [op for op in read_operations(ctx, 6) if "{" not in op.path][:3]
    if not ops:
        ctx.not_tested("no documented GET operation without path parameters to vary")
        return
    for op in ops:
        legit = await baseline(ctx, op, user)
        for path in _variants(op.path):
            if ctx.target.documented(path):
                continue
            built = ctx.target.build_path("GET", path, user)
            built.query = dict(legit.built.query)
            answer = await ctx.target.send(built)
            if not await ctx.target.is_real(answer):
                continue
            anonymous = None
            if user is not None and ctx.target.requires_auth(op):
                anonymous = await ctx.target.send(built, headers={}, query={})
            open_door = anonymous is not None and anonymous.ok
            ctx.report(
                operation=f"GET {path}",
                title=f"Undocumented API version {path} still served",
                description=f"{path} is not in the description but answers {answer.status} "
                f"like the documented {op_label(op)}"
                + (", and without credentials" if open_door else "")
                + ": an unmaintained version keeps the flaws the current one fixed.",
                exchange=anonymous if open_door and anonymous else answer,
                baseline=legit.exchange,
                why=f"GET {path} -> {answer.status}, unlike the answer to a path that cannot "
                "exist" + ("; also 2xx with no credentials" if open_door else ""),
                severity="high" if open_door else None,
            )
            break


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
