"""One security test run: the probes in catalogue order within the budget, their statuses,
the findings they prove, and the result."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mockloop.progress import report_progress
from mockloop.security.catalogue import CATEGORIES, FAMILIES, PROBES, probe_spec
from mockloop.security.findings import (
    MAX_AFFECTED_EVIDENCE,
    SEVERITIES,
    AffectedOperation,
    Evidence,
    FamilyCoverage,
    Finding,
    ProbeStatus,
    Severity,
)
from mockloop.security.runner import BudgetExhausted, Exchange, ProbeClient
from mockloop.security.target import SecurityTarget, op_label
from mockloop.spec import Operation

__all__ = [
    "Handler",
    "ScanContext",
    "ScanOptions",
    "by_severity",
    "family_coverage",
    "run_probes",
]

T = TypeVar("T")

# The burst that looks for a rate limit goes last: a server that does throttle would
# otherwise answer the probes after it with 429 and hide what they look for.
_LAST = ("API4.rate_limit",)
# Error hygiene judges every answer the run saw and sends nothing: it goes after all the
# others and runs even when the budget is spent.
_FINAL = ("API8.error_hygiene",)
# Requests kept back for every probe still to run, so that one probe with many operations
# cannot spend the budget the later families need for their first ones.
_RESERVE_PER_PROBE = 4
_WRITES = ("POST", "PUT", "PATCH")
_CONFIDENCE = ("confirmed", "firm", "tentative")


def _operation_of(item: object) -> Operation | None:
    """The operation a probe item is about: the item itself, its `op`, or a tuple's first."""
    if isinstance(item, Operation):
        return item
    if isinstance(item, tuple) and item and isinstance(item[0], Operation):
        return item[0]
    op = getattr(item, "op", None)
    return op if isinstance(op, Operation) else None


def _label_of(item: object) -> str:
    op = _operation_of(item)
    if op is not None:
        return op_label(op)
    label = getattr(item, "label", None)
    return label if isinstance(label, str) else str(item)


def _kind(title: str, operations: list[str]) -> str:
    """A finding's title with its operations taken out: the same flaw on another operation
    gives the same kind."""
    for label in operations:
        title = title.replace(label, "{operation}")
        path = label.split(" ", 1)[-1]
        if len(path) > 1:
            title = title.replace(path, "{operation}")
    return title


@dataclass(slots=True)
class _Reach:
    """The items one probe planned to send to and the ones it got to, by operation label."""

    planned: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class ScanOptions:
    """Knobs of a run that probes read."""

    burst: int = 30
    timing_delay: float = 1.0
    allow_writes: bool = True
    payload_bytes: int = 2 * 1024 * 1024


@dataclass(slots=True)
class ScanContext:
    """What a probe works with and reports to."""

    target: SecurityTarget
    http: ProbeClient
    options: ScanOptions
    findings: list[Finding] = field(default_factory=list)
    statuses: dict[str, ProbeStatus] = field(default_factory=dict)
    current: str = ""
    memo: dict[str, Any] = field(default_factory=dict)
    reserve: int = 0
    reach: dict[str, _Reach] = field(default_factory=dict)
    kinds: dict[tuple[str, str], Finding] = field(default_factory=dict)

    def status(self, probe_id: str) -> ProbeStatus:
        """The status record of a probe (created tested, no requests yet)."""
        if probe_id not in self.statuses:
            spec = probe_spec(probe_id)
            family = FAMILIES[spec.family]
            self.statuses[probe_id] = ProbeStatus(
                probe=probe_id,
                family=spec.family,
                category=CATEGORIES[family.category].label,
                title=spec.title,
                status="tested",
            )
        return self.statuses[probe_id]

    def not_tested(self, reason: str, probe_id: str | None = None) -> None:
        """Mark a probe (default: the running one) as not tested, saying why."""
        record = self.status(probe_id or self.current)
        record.status = "not_tested"
        record.reason = reason

    def risk(self, op: Operation | None) -> int:
        """How much a flaw on `op` would expose: secured operations score 2, object reads
        with a path id, writes with free-text fields and deletes by id 1 more."""
        if op is None:
            return 0
        method = op.method.upper()
        score = 2 if self.target.requires_auth(op) else 0
        has_id = any(p.location == "path" for p in op.parameters)
        if (method in ("GET", "DELETE") and has_id) or (method in _WRITES and self._free_text(op)):
            score += 1
        return score

    def _free_text(self, op: Operation) -> bool:
        schema = self.target.request_schema(op) or {}
        for sub in schema.get("properties", {}).values():
            resolved = self.target.deref(sub)
            if (
                resolved.get("type") in (None, "string")
                and not resolved.get("enum")
                and resolved.get("format") in (None, "", "password")
            ):
                return True
        return False

    def within_budget(self, items: Iterable[T], *, cost: int = 1) -> Iterator[T]:
        """Yield `items` riskiest operation first (see `risk`) while the budget lasts.

        The first item always comes; each later one only while more than `cost` requests
        are left above the reserve kept for the probes still to run. What the probe planned
        and what it reached are recorded per operation for the result's coverage lists."""
        chosen = sorted(items, key=lambda item: -self.risk(_operation_of(item)))
        reach = self.reach.setdefault(self.current, _Reach())
        labels = [_label_of(item) for item in chosen]
        reach.planned.update(labels)
        for n, (label, item) in enumerate(zip(labels, chosen, strict=True)):
            if n and self.http.remaining - cost < self.reserve:
                self.note(
                    f"{len(chosen) - n} item(s) left for lack of budget "
                    f"({self.http.remaining} requests left, {self.reserve} kept for later probes)"
                )
                return
            reach.reached[label] += 1
            yield item

    def close_coverage(self, probe_id: str) -> None:
        """Copy what `within_budget` recorded for a probe into its status."""
        reach = self.reach.get(probe_id)
        if reach is None:
            return
        record = self.status(probe_id)
        record.operations_covered = [op for op in reach.planned if reach.reached[op]]
        record.operations_left = [
            op for op in reach.planned if reach.reached[op] < reach.planned[op]
        ]

    def note(self, text: str) -> None:
        """Add a note to the running probe (what it tried, what it saw)."""
        notes = self.status(self.current).notes
        if text not in notes and len(notes) < 20:
            notes.append(text)

    def report(
        self,
        *,
        operation: str,
        title: str,
        description: str,
        exchange: Exchange,
        why: str,
        baseline: Exchange | None = None,
        severity: Severity | None = None,
        confidence: str = "firm",
        extra: dict[str, Any] | None = None,
        probe_id: str | None = None,
        operations: list[str] | None = None,
        kind: str | None = None,
    ) -> Finding:
        """Record a finding of the running probe with the exchange that proves it.

        One flaw is one finding: when the probe already reported the same kind (by default
        its title with the operation taken out) on other operations, this operation is added
        to that finding's `operations`, with its evidence in `affected` (bounded)."""
        pid = probe_id or self.current
        spec = probe_spec(pid)
        family = FAMILIES[spec.family]
        record = self.status(pid)
        labels: list[str] = list(dict.fromkeys([operation, *(operations or [])]))
        key = (pid, kind or _kind(title, labels))
        evidence = Evidence(
            request=exchange.request_excerpt(),
            response=exchange.response_excerpt(),
            why=why,
            baseline=baseline.response_excerpt() if baseline is not None else None,
            extra=extra or {},
        )
        known = self.kinds.get(key)
        if known is not None:
            new = [label for label in labels if label not in known.operations]
            known.operations.extend(new)
            if new and len(known.affected) < MAX_AFFECTED_EVIDENCE:
                known.affected.append(AffectedOperation(operation=new[0], evidence=evidence))
            worse = severity or spec.severity
            if SEVERITIES.index(worse) < SEVERITIES.index(known.severity):  # type: ignore[arg-type]
                known.severity = worse  # type: ignore[assignment]
            if _CONFIDENCE.index(confidence) < _CONFIDENCE.index(known.confidence):
                known.confidence = confidence  # type: ignore[assignment]
            return known
        record.findings += 1
        finding = Finding(
            id=f"{pid}#{record.findings}",
            probe=pid,
            family=spec.family,
            category=CATEGORIES[family.category].label,
            cwe=spec.cwe,
            severity=severity or spec.severity,  # type: ignore[arg-type]
            confidence=confidence,  # type: ignore[arg-type]
            operation=operation,
            operations=labels,
            title=title,
            description=description,
            evidence=evidence,
            remediation=spec.remediation,
        )
        self.kinds[key] = finding
        self.findings.append(finding)
        return finding


Handler = Callable[[ScanContext], Awaitable[None]]


def _order(families: list[str]) -> list[str]:
    chosen = [pid for pid, spec in PROBES.items() if spec.family in families]
    tail = _LAST + _FINAL
    return [p for p in chosen if p not in tail] + [p for p in tail if p in chosen]


async def run_probes(ctx: ScanContext, families: list[str], handlers: dict[str, Handler]) -> bool:
    """Run the chosen families' probes in order; True when the budget ran out."""
    order = _order(families)
    exhausted = False
    runnable = [p for p in order if FAMILIES[probe_spec(p).family].automatable]
    for done, probe_id in enumerate(order):
        ctx.current = probe_id
        record = ctx.status(probe_id)
        family = FAMILIES[probe_spec(probe_id).family]
        if not family.automatable:
            ctx.not_tested(f"not automatable: {family.why_not}")
            continue
        later = runnable[runnable.index(probe_id) + 1 :]
        ctx.reserve = sum(
            0 if p in _FINAL else ctx.options.burst + 1 if p in _LAST else _RESERVE_PER_PROBE
            for p in later
        )
        if exhausted and probe_id not in _FINAL:
            record.status = "skipped"
            record.reason = (
                f"the request budget (max_requests={ctx.http.max_requests}) was spent "
                "before this probe ran"
            )
            continue
        before = ctx.http.sent
        started = time.monotonic()
        try:
            await handlers[probe_id](ctx)
        except BudgetExhausted:
            exhausted = True
            record.status = "skipped"
            record.reason = (
                f"the request budget (max_requests={ctx.http.max_requests}) ran out during "
                "this probe; findings made before that are kept"
            )
        ctx.close_coverage(probe_id)
        record.requests = ctx.http.sent - before
        if record.status == "tested" and record.requests == 0 and not record.reason:
            record.reason = "tested without new requests (judged on earlier exchanges)"
        elapsed = time.monotonic() - started
        if elapsed > 0.5:
            ctx.status(probe_id).notes.append(f"took {elapsed:.1f} s")
        await report_progress(done + 1, len(order), f"{probe_id}: {record.status}")
    return exhausted


def by_severity(findings: list[Finding]) -> dict[str, int]:
    """Finding counts for every severity (zeros included)."""
    return {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}


def family_coverage(families: list[str], probes: list[ProbeStatus]) -> list[FamilyCoverage]:
    """Per chosen family: the operations any of its probes covered, and those some probe
    left for lack of budget."""
    out = []
    for name in families:
        mine = [p for p in probes if p.family == name]
        covered = [op for p in mine for op in p.operations_covered]
        left = [op for p in mine for op in p.operations_left]
        out.append(
            FamilyCoverage(
                family=name,
                operations_covered=list(dict.fromkeys(covered)),
                operations_left=list(dict.fromkeys(left)),
            )
        )
    return out
