"""Injection: SQL, NoSQL, OS command, path traversal and server-side template payloads in
query, path and body fields, and unescaped reflection in HTML.

Each payload is compared with the legitimate request of the same operation (the baseline):
an error signature counts only when the baseline does not show it; boolean SQL payloads count
when `' OR '1'='1` returns more items than both the baseline and `' AND '1'='2`; a 5xx counts
only when the baseline was not 5xx; a sleep payload counts only when it is slower than the
baseline by most of the delay twice in a row, or when the output of an injected `id`,
`whoami` or `vol` (`uid=0(root) gid=0(root)`, `nt authority\\system`, `Volume Serial Number`)
appears and the baseline lacks it; a template payload counts when its product (7*191 = 1337)
appears, the baseline lacks it, and a second expression (7*7919) is evaluated too; traversal
when a system file's text (`root:x:0:0:`, win.ini's `[fonts]`) appears and the baseline lacks it.
The evidence names the signature and carries the excerpt around it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mockloop.security.probes.consumption import count_items
from mockloop.security.probes.selection import Baseline, baseline, read_operations, write_operations
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.signatures import (
    COMMAND_ERRORS,
    COMMAND_OUTPUT,
    NOSQL_ERRORS,
    SQL_ERRORS,
    SYSTEM_FILES,
    excerpt,
    first_match,
    first_span,
)
from mockloop.security.target import op_label
from mockloop.spec import Operation

__all__ = ["HANDLERS"]

#: Template syntaxes, each sent alone: one syntax an engine rejects must not hide another.
_TEMPLATES = ("{{%s}}", "${%s}", "<%%= %s %%>", "#{%s}", "{%s}")
_EXPRESSION, _PRODUCT = "7*191", str(7 * 191)
_CONFIRM, _CONFIRMED = "7*7919", str(7 * 7919)
#: Commands whose output is recognisable: `id` on Unix shells, `whoami`/`vol` on Windows.
_COMMANDS = (
    "mockloop;id",
    "mockloop|id",
    "$(id)",
    "`id`",
    "mockloop\nid",
    "mockloop&whoami&vol",
)
_TRAVERSALS = (
    "../../../../../../../../etc/passwd",
    "....//....//....//....//....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\..\\..\\..\\..\\windows\\win.ini",
)


@dataclass(slots=True)
class Point:
    """One injectable field of one operation."""

    op: Operation
    location: str  # query, path, body
    name: str
    legit: Baseline

    @property
    def label(self) -> str:
        return f"{op_label(self.op)} {self.location} {self.name}"


def _stringish(ctx: ScanContext, schema: Any) -> bool:
    resolved = ctx.target.deref(schema)
    return (
        resolved.get("type") in (None, "string")
        and not resolved.get("enum")
        and (resolved.get("format") not in ("date", "date-time", "uuid", "uri", "url", "email"))
    )


async def _points(ctx: ScanContext) -> list[Point]:
    if "injection:points" in ctx.memo:
        return ctx.memo["injection:points"]
    user = ctx.target.user
    strings: list[tuple[Operation, str, str]] = []
    others: list[tuple[Operation, str, str]] = []
    for op in read_operations(ctx):
        for param in op.parameters:
            if param.location in ("query", "path"):
                bucket = strings if _stringish(ctx, param.schema) else others
                bucket.append((op, param.location, param.name))
    if ctx.options.allow_writes:
        for op in write_operations(ctx):
            schema = ctx.target.request_schema(op) or {}
            for name, sub in schema.get("properties", {}).items():
                if _stringish(ctx, sub):
                    strings.append((op, "body", name))
    points = []
    for op, location, name in strings + others:
        legit = await baseline(ctx, op, user)
        if legit.exchange.status:
            points.append(Point(op, location, name, legit))
    ctx.memo["injection:points"] = points
    return points


async def _inject(
    ctx: ScanContext, point: Point, value: Any, rename: str | None = None
) -> Exchange:
    built = point.legit.built
    if point.location == "query":
        query = {k: v for k, v in built.query.items() if k != point.name}
        query[rename or point.name] = value
        return await ctx.target.send(built, query=query)
    if point.location == "path":
        rebuilt = ctx.target.build(point.op, ctx.target.user, values={point.name: str(value)})
        return await ctx.target.send(built, url=rebuilt.url)
    body = dict(built.body) if isinstance(built.body, dict) else {}
    body[point.name] = value
    return await ctx.target.send(built, body=body)


async def _each_point(ctx: ScanContext) -> Iterable[Point]:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no parameter to inject into is known")
        return []
    points = await _points(ctx)
    if not points:
        ctx.not_tested("no query, path or body field to inject into")
    return ctx.within_budget(points)


def _new_signature(patterns: Any, answer: Exchange, legit: Exchange) -> str | None:
    found = first_match(patterns, answer.text)
    if found and first_match(patterns, legit.text) is None:
        return found
    return None


async def _sql(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        quote = await _inject(ctx, point, "mockloop'\"")
        found = _new_signature(SQL_ERRORS, quote, legit)
        if found:
            ctx.report(
                operation=op_label(point.op),
                title=f"SQL injection in {point.location} field {point.name}",
                description=f"A quote in {point.label} breaks the server's SQL: the value is "
                "spliced into the query text.",
                exchange=quote,
                baseline=legit,
                why=f"the payload's answer holds the SQL error {found!r}; the baseline does not",
                confidence="confirmed",
            )
            continue
        true_ = await _inject(ctx, point, "mockloop' OR '1'='1")
        false_ = await _inject(ctx, point, "mockloop' AND '1'='2")
        n_true, n_false, n_base = (count_items(x.json()) for x in (true_, false_, legit))
        if (
            true_.ok
            and false_.ok
            and n_true is not None
            and n_false is not None
            and n_true > n_false
            and n_true > (n_base or 0)
        ):
            ctx.report(
                operation=op_label(point.op),
                title=f"SQL injection (boolean) in {point.location} field {point.name}",
                description=f"{point.label}: a tautology returns more rows than a "
                "contradiction: the value is evaluated as SQL.",
                exchange=true_,
                baseline=false_,
                why=f"' OR '1'='1 -> {n_true} items; ' AND '1'='2 -> {n_false}; "
                f"baseline -> {n_base}",
                confidence="firm",
            )
            continue
        if quote.status >= 500 and legit.status < 500:
            ctx.report(
                operation=op_label(point.op),
                title=f"Server error on a quote in {point.location} field {point.name}",
                description=f"{point.label}: a quote makes the server fail while the "
                "legitimate value does not; possibly injectable.",
                exchange=quote,
                baseline=legit,
                why=f"quote -> {quote.status}; baseline -> {legit.status}",
                severity="medium",
                confidence="tentative",
            )
        else:
            ctx.note(f"{point.label}: quote -> {quote.status}")


async def _nosql(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        if point.location == "query":
            answer = await _inject(ctx, point, "mockloop", rename=f"{point.name}[$ne]")
        elif point.location == "body":
            answer = await _inject(ctx, point, {"$ne": None})
        else:
            answer = await _inject(ctx, point, '{"$ne": null}')
        found = _new_signature(NOSQL_ERRORS, answer, legit)
        # A server that ignores the unknown name `q[$ne]` drops the filter and returns more:
        # the control (an unknown name of the same shape) tells that apart from evaluation.
        control = legit
        if point.location == "query" and answer.ok and found is None:
            control = await _inject(ctx, point, "mockloop", rename=f"{point.name}[mockloop]")
        grew = (
            answer.ok
            and control.ok
            and (count_items(answer.json()) or 0) > (count_items(control.json()) or 0)
            and point.location != "path"
        )
        if found or grew:
            ctx.report(
                operation=op_label(point.op),
                title=f"NoSQL operator injection in {point.location} field {point.name}",
                description=f"{point.label}: a $ne operator instead of a value is "
                + ("evaluated by the database" if found else "widening the result"),
                exchange=answer,
                baseline=legit,
                why=f"error {found!r}" if found else "more items than the control request",
                confidence="confirmed" if found else "firm",
            )


def _new_output(patterns: Any, answer: Exchange, legit: Exchange) -> str | None:
    """The excerpt around a signature the answer holds and the baseline does not."""
    span = first_span(patterns, answer.text)
    if span is None or first_match(patterns, legit.text) is not None:
        return None
    return excerpt(answer.text, span)


async def _command_output(ctx: ScanContext, point: Point) -> bool:
    """Injected commands whose output comes back in the answer; True when one did."""
    legit = point.legit.exchange
    for payload in _COMMANDS:
        answer = await _inject(ctx, point, payload)
        shown = _new_output(COMMAND_OUTPUT, answer, legit)
        if shown is None:
            continue
        found = first_match(COMMAND_OUTPUT, answer.text)
        ctx.report(
            operation=op_label(point.op),
            title=f"OS command injection in {point.location} field {point.name}",
            description=f"{point.label}: the value reaches a shell; the output of the "
            "injected command comes back in the answer.",
            exchange=answer,
            baseline=legit,
            why=f"{payload!r} brought the command output {found!r}; the baseline does not hold it",
            confidence="confirmed",
            extra={"payload": payload, "signature": found, "excerpt": shown},
        )
        return True
    return False


async def _command(ctx: ScanContext) -> None:
    delay = ctx.options.timing_delay
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        if await _command_output(ctx, point):
            continue
        for template in ("mockloop;sleep {d}", "mockloop|sleep {d}", "$(sleep {d})"):
            payload = template.format(d=f"{delay:g}")
            first = await _inject(ctx, point, payload)
            found = _new_signature(COMMAND_ERRORS, first, legit)
            threshold = legit.elapsed + 0.8 * delay
            if found is None and first.elapsed < threshold:
                continue
            confirm = await _inject(ctx, point, payload) if found is None else first
            if found is None and confirm.elapsed < threshold:
                ctx.note(f"{point.label}: one slow answer, not repeated")
                continue
            ctx.report(
                operation=op_label(point.op),
                title=f"OS command injection in {point.location} field {point.name}",
                description=f"{point.label}: the value reaches a shell.",
                exchange=confirm,
                baseline=legit,
                why=(
                    f"shell error {found!r}"
                    if found
                    else f"'{payload}' took {first.elapsed:.2f} s and {confirm.elapsed:.2f} s; "
                    f"the baseline {legit.elapsed:.2f} s"
                ),
                confidence="confirmed" if found else "firm",
            )
            break


async def _path_traversal(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        for payload in _TRAVERSALS:
            answer = await _inject(ctx, point, payload)
            shown = _new_output(SYSTEM_FILES, answer, legit)
            if shown is None:
                continue
            hit = first_match(SYSTEM_FILES, answer.text)
            ctx.report(
                operation=op_label(point.op),
                title=f"Path traversal in {point.location} field {point.name}",
                description=f"{point.label}: a relative path reads a system file.",
                exchange=answer,
                baseline=legit,
                why=f"{payload!r} brought {hit!r}, the baseline does not hold it",
                confidence="confirmed",
                extra={"payload": payload, "signature": hit, "excerpt": shown},
            )
            break


async def _template(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        by_chance = _PRODUCT in legit.text
        if by_chance:
            ctx.note(f"{point.label}: the baseline holds {_PRODUCT}; judged on {_CONFIRMED}")
        for syntax in _TEMPLATES:
            if not by_chance:
                answer = await _inject(ctx, point, syntax % _EXPRESSION)
                if _PRODUCT not in answer.text:
                    continue
            # A second expression rules out a 1337 that was there by chance.
            confirm = await _inject(ctx, point, syntax % _CONFIRM)
            if _CONFIRMED not in confirm.text or _CONFIRMED in legit.text:
                continue
            at = confirm.text.index(_CONFIRMED)
            span = (at, at + len(_CONFIRMED))
            ctx.report(
                operation=op_label(point.op),
                title=f"Server-side template injection in {point.location} field {point.name}",
                description=f"{point.label}: the template expressions {syntax % _EXPRESSION} "
                f"and {syntax % _CONFIRM} were evaluated.",
                exchange=confirm,
                baseline=legit,
                why=f"{syntax % _EXPRESSION!r} came back as {_PRODUCT} and "
                f"{syntax % _CONFIRM!r} as {_CONFIRMED}; the baseline holds neither",
                confidence="confirmed",
                extra={"payload": syntax % _CONFIRM, "excerpt": excerpt(confirm.text, span)},
            )
            break


async def _reflection(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        marker = f"<mlx{secrets.token_hex(4)}>"
        answer = await _inject(ctx, point, marker)
        if "html" in (answer.header("content-type") or "") and marker in answer.text:
            ctx.report(
                operation=op_label(point.op),
                title=f"Unescaped reflection of {point.location} field {point.name}",
                description=f"{point.label}: markup in the value comes back unescaped in an "
                "HTML response (cross-site scripting).",
                exchange=answer,
                why=f"{marker} reflected as-is in a text/html answer",
                confidence="confirmed",
            )


HANDLERS: dict[str, Handler] = {
    "INJ.sql": _sql,
    "INJ.nosql": _nosql,
    "INJ.command": _command,
    "INJ.path_traversal": _path_traversal,
    "INJ.template": _template,
    "INJ.reflection": _reflection,
}
