"""API8 Security Misconfiguration: security headers, CORS with credentials for any origin,
stack traces in error responses, TRACE, and the error hygiene of every answer of the run.

Headers are judged on the legitimate answers already fetched: one finding per missing header
for the whole target, not one per operation. CORS is a flaw only when credentials are allowed
together with a wildcard or with an origin the probe made up. An error body counts only when
it holds a stack-trace signature. TRACE counts only when the answer echoes the probe's
one-time header. Error hygiene sends nothing: it runs last and reads every answer the run
received for stack traces, framework debug pages and SQL error text, one finding per kind
listing the operations; a signature the request itself carried (a reflection) does not count.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote, urlsplit

from mockloop.audit.redaction import redact_text
from mockloop.security.probes.selection import baseline, read_operations, write_operations
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.signatures import ERROR_KINDS, STACK_TRACES, excerpt, first_match
from mockloop.security.target import BuiltRequest, op_label

__all__ = ["EVIL_ORIGIN", "HANDLERS"]

EVIL_ORIGIN = "https://mockloop-probe.invalid"
#: How much of each body error hygiene reads, and how many excerpts a finding keeps.
_SCAN_CHARS = 64 * 1024
_MAX_EXCERPTS = 5


async def _samples(ctx: ScanContext) -> list[tuple[str, BuiltRequest, Exchange, bool]]:
    """(label, request, answer, authenticated) of legitimate 2xx answers, the root if none."""
    out = []
    user = ctx.target.user
    for op in ctx.within_budget(read_operations(ctx)):
        legit = await baseline(ctx, op, user)
        if legit.exchange.ok:
            authed = user is not None and ctx.target.requires_auth(op)
            out.append((legit.label, legit.built, legit.exchange, authed))
    if not out:
        built = ctx.target.build_path("GET", "/", user)
        answer = await ctx.target.send(built)
        if answer.ok:
            out.append(("GET /", built, answer, user is not None))
    return out


async def _security_headers(ctx: ScanContext) -> None:
    samples = await _samples(ctx)
    if not samples:
        ctx.not_tested("no 2xx answer to judge headers on (neither operations nor the root)")
        return
    https = ctx.target.base_url.startswith("https://")
    missing: dict[str, tuple[str, Exchange, str]] = {}
    for label, _built, answer, authed in samples:
        kind = answer.header("content-type") or ""
        if answer.content and (answer.header("x-content-type-options") or "").lower() != "nosniff":
            missing.setdefault(
                "X-Content-Type-Options", (label, answer, "no 'X-Content-Type-Options: nosniff'")
            )
        cache = (answer.header("cache-control") or "").lower()
        if authed and "no-store" not in cache and "private" not in cache:
            missing.setdefault(
                "Cache-Control",
                (label, answer, f"authenticated response with Cache-Control {cache or 'absent'!r}"),
            )
        if https and not answer.header("strict-transport-security"):
            missing.setdefault(
                "Strict-Transport-Security", (label, answer, "HTTPS response without HSTS")
            )
        if "html" in kind and not answer.header("content-security-policy"):
            missing.setdefault(
                "Content-Security-Policy", (label, answer, "HTML response without a CSP")
            )
    for header, (label, answer, why) in missing.items():
        ctx.report(
            operation=label,
            title=f"Missing security header {header}",
            description=f"{label} answered without a proper {header} header ({why}).",
            exchange=answer,
            why=why,
            confidence="confirmed",
        )
    ctx.note(f"{len(samples)} legitimate answer(s) checked")


async def _cors(ctx: ScanContext) -> None:
    samples = await _samples(ctx)
    label, built = (
        (samples[0][0], samples[0][1])
        if samples
        else ("GET /", ctx.target.build_path("GET", "/", ctx.target.user))
    )
    simple = await ctx.target.send(built, headers={**built.headers, "Origin": EVIL_ORIGIN})
    preflight = await ctx.target.send(
        built,
        method="OPTIONS",
        body=None,
        headers={
            "Origin": EVIL_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    for answer in (simple, preflight):
        origin = answer.header("access-control-allow-origin")
        credentials = (answer.header("access-control-allow-credentials") or "").lower() == "true"
        if origin in ("*", EVIL_ORIGIN) and credentials:
            how = "a wildcard" if origin == "*" else f"the probe's made-up origin {EVIL_ORIGIN}"
            ctx.report(
                operation=label if answer is simple else f"OPTIONS {built.path}",
                title="CORS allows credentials for any origin",
                description=f"The server answers Access-Control-Allow-Origin with {how} and "
                "Access-Control-Allow-Credentials: true: any web site a user visits can call "
                "the API with that user's cookies and read the answers.",
                exchange=answer,
                why=f"Origin {EVIL_ORIGIN} -> Access-Control-Allow-Origin: {origin}, "
                "Access-Control-Allow-Credentials: true",
                confidence="confirmed",
            )
            return
    ctx.note(
        f"Origin {EVIL_ORIGIN}: allow-origin {simple.header('access-control-allow-origin')!r}, "
        f"preflight {preflight.status}"
    )


async def _verbose_errors(ctx: ScanContext) -> None:
    user = ctx.target.user
    provoked: list[tuple[str, Exchange]] = [("GET (unknown path)", await ctx.target.not_found())]
    by_id = [op for op in read_operations(ctx) if any(p.location == "path" for p in op.parameters)]
    for op in ctx.within_budget(by_id):
        params = [p for p in op.parameters if p.location == "path"]
        odd = {p.name: "mockloop'\"<>%" for p in params}
        provoked.append(
            (op_label(op), await ctx.target.send(ctx.target.build(op, user, values=odd)))
        )
    if ctx.options.allow_writes:
        for op in ctx.within_budget(write_operations(ctx)):
            built = ctx.target.build(op, user, with_body=False)
            headers = {**built.headers, "Content-Type": "application/json"}
            provoked.append(
                (
                    op_label(op),
                    await ctx.target.send(built, content=b'{"mockloop": ', headers=headers),
                )
            )
    for label, answer in provoked:
        if answer.ok:
            continue
        found = first_match(STACK_TRACES, answer.text)
        if found:
            ctx.report(
                operation=label,
                title=f"Stack trace in the error response of {label}",
                description="An error response reveals a stack trace: file paths, code and "
                "library versions that help an attacker.",
                exchange=answer,
                why=f"status {answer.status}, body contains {found!r}",
                confidence="confirmed",
            )
            return
        ctx.note(f"{label}: provoked {answer.status}, no trace")


async def _trace(ctx: ScanContext) -> None:
    token = secrets.token_hex(8)
    built = ctx.target.build_path("TRACE", "/", None)
    answer = await ctx.target.send(built, headers={"X-MockLoop-Trace": token})
    if answer.ok and token in answer.text:
        ctx.report(
            operation="TRACE /",
            title="TRACE method enabled",
            description="The server answers TRACE by echoing the request, headers included "
            "(cross-site tracing can read credentials a browser adds).",
            exchange=answer,
            why=f"TRACE answered {answer.status} and echoed the one-time header value {token}",
            confidence="confirmed",
        )
    else:
        ctx.note(f"TRACE / -> {answer.status}")


def _labeller(ctx: ScanContext) -> list[tuple[re.Pattern[str], str, str]]:
    """(path pattern, method, label) of the description's operations."""
    return [
        (
            re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "/?$"),
            op.method.upper(),
            op_label(op),
        )
        for op in ctx.target.operations
    ]


def _label(
    ctx: ScanContext, templates: list[tuple[re.Pattern[str], str, str]], answer: Exchange
) -> str:
    """The documented operation an exchange called ("GET /users/{id}"), else its path."""
    path = urlsplit(answer.url).path
    base = urlsplit(ctx.target.base_url).path.rstrip("/")
    if base and path.startswith(base + "/"):
        path = path[len(base) :]
    for pattern, method, label in templates:
        if method == answer.method.upper() and pattern.match(path):
            return label
    return f"{answer.method.upper()} {path}"


def _sent_text(answer: Exchange) -> str:
    """What the request carried (URL decoded, body): a signature found there is a reflection."""
    body = (answer.body or b"")[:_SCAN_CHARS].decode("utf-8", errors="replace")
    return unquote(answer.url) + "\n" + body


async def _error_hygiene(ctx: ScanContext) -> None:
    seen = [x for x in ctx.http.exchanges if x.status and x.content]
    if ctx.target.spec_url:
        seen = [x for x in seen if x.url.split("?")[0] != ctx.target.spec_url]
    if not seen:
        ctx.not_tested("no answer with a body was received during the run")
        return
    templates = _labeller(ctx)
    hits: dict[str, list[tuple[str, Exchange, str, str]]] = {}
    for answer in seen:
        text = answer.text[:_SCAN_CHARS]
        sent: str | None = None
        for kind, patterns in ERROR_KINDS.items():
            if (
                kind == "stack trace"
                and "framework debug page" in hits
                and hits["framework debug page"][-1][1] is answer
            ):
                continue  # the debug page says it already
            for pattern in patterns:
                found = pattern.search(text)
                if found is None:
                    continue
                sent = _sent_text(answer) if sent is None else sent
                if found.group(0) in sent:
                    continue
                label = _label(ctx, templates, answer)
                shown = redact_text(excerpt(text, found.span()))
                hits.setdefault(kind, []).append((label, answer, found.group(0), shown))
                break
    ctx.note(f"{len(seen)} answer(s) of the run read")
    already = {
        op
        for f in ctx.findings
        if f.probe == "API8.verbose_errors"
        for op in (f.operations or [f.operation])
    }
    for kind, found in hits.items():
        labels = list(dict.fromkeys(label for label, *_ in found))
        if kind == "stack trace" and set(labels) <= already:
            ctx.note(f"stack traces only where API8.verbose_errors reported them: {labels}")
            continue
        label, answer, signature, shown = found[0]
        statuses = sorted({x.status for _, x, *_ in found})
        ctx.report(
            operation=label,
            operations=labels,
            kind=kind,
            title=f"{kind[0].upper()}{kind[1:]} in the answers of {len(labels)} operation(s)",
            description=f"Answers of {', '.join(labels[:8])}"
            + (f" and {len(labels) - 8} more" if len(labels) > 8 else "")
            + f" show {kind} ({signature!r}): internals (code, file paths, queries, library "
            "versions) that help an attacker aim the next request.",
            exchange=answer,
            why=f"{len(found)} answer(s) (status {', '.join(map(str, statuses))}) hold "
            f"{signature!r}, which the requests did not carry",
            confidence="confirmed",
            extra={
                "kind": kind,
                "signature": signature,
                "excerpt": shown,
                "excerpts": [
                    {"operation": lab, "status": x.status, "excerpt": ex}
                    for lab, x, _, ex in found[:_MAX_EXCERPTS]
                ],
            },
        )


HANDLERS: dict[str, Handler] = {
    "API8.security_headers": _security_headers,
    "API8.cors": _cors,
    "API8.verbose_errors": _verbose_errors,
    "API8.trace": _trace,
    "API8.error_hygiene": _error_hygiene,
}
