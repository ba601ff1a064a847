"""Injection: SQL, NoSQL, OS command, path traversal and server-side template payloads in
query, path and body fields, and unescaped reflection in HTML.

Each payload is compared with the legitimate request of the same operation (the baseline):
an error signature counts only when the baseline does not show it; boolean SQL payloads count
when `' OR '1'='1` returns more items than both the baseline and `' AND '1'='2`; a 5xx counts
only when the baseline was not 5xx; a sleep payload counts only when it is slower than the
baseline by most of the delay twice in a row; a template payload counts when its product
appears and the baseline does not hold it; traversal when a system file's text appears.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from mockloop.security.probes.consumption import count_items
from mockloop.security.probes.selection import Baseline, baseline, read_operations, write_operations
from mockloop.security.runner import Exchange
from mockloop.security.scan import Handler, ScanContext
from mockloop.security.signatures import (
    COMMAND_ERRORS,
    NOSQL_ERRORS,
    SQL_ERRORS,
    first_match,
)
from mockloop.security.target import op_label
from mockloop.spec import Operation

__all__ = ["HANDLERS"]

_MAX_POINTS = 8
_PRODUCT = str(7 * 7919)
_TEMPLATE = "{{7*7919}}|${7*7919}|<%= 7*7919 %>|#{7*7919}"
_FILES = ("root:x:0:0:", "[boot loader]", "; for 16-bit app support")


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
    for op in read_operations(ctx, 12):
        for param in op.parameters:
            if param.location in ("query", "path"):
                bucket = strings if _stringish(ctx, param.schema) else others
                bucket.append((op, param.location, param.name))
    if ctx.options.allow_writes:
        for op in write_operations(ctx, 4):
            schema = ctx.target.request_schema(op) or {}
            for name, sub in schema.get("properties", {}).items():
                if _stringish(ctx, sub):
                    strings.append((op, "body", name))
    points = []
    for op, location, name in (strings + others)[:_MAX_POINTS]:
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


async def _each_point(ctx: ScanContext) -> list[Point]:
    if ctx.target.spec is None:
        ctx.not_tested("no API description: no parameter to inject into is known")
        return []
    points = await _points(ctx)
    if not points:
        ctx.not_tested("no query, path or body field to inject into")
    return points


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


async def _command(ctx: ScanContext) -> None:
    delay = ctx.options.timing_delay
    for point in await _each_point(ctx):
        legit = point.legit.exchange
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
        answer = await _inject(ctx, point, "../../../../../../../../etc/passwd")
        hit = next((s for s in _FILES if s in answer.text and s not in legit.text), None)
        if hit:
            ctx.report(
                operation=op_label(point.op),
                title=f"Path traversal in {point.location} field {point.name}",
                description=f"{point.label}: a relative path reads a system file.",
                exchange=answer,
                baseline=legit,
                why=f"the answer holds {hit!r}, the baseline does not",
                confidence="confirmed",
            )


async def _template(ctx: ScanContext) -> None:
    for point in await _each_point(ctx):
        legit = point.legit.exchange
        answer = await _inject(ctx, point, _TEMPLATE)
        if _PRODUCT in answer.text and _PRODUCT not in legit.text:
            ctx.report(
                operation=op_label(point.op),
                title=f"Server-side template injection in {point.location} field {point.name}",
                description=f"{point.label}: the expression 7*7919 was evaluated.",
                exchange=answer,
                baseline=legit,
                why=f"the answer holds {_PRODUCT}, the product of the payload's expression",
                confidence="confirmed",
            )


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
