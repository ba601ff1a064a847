"""One security test run: the probes in catalogue order within the budget, their statuses,
the findings they prove, and the result."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mockloop.progress import report_progress
from mockloop.security.catalogue import CATEGORIES, FAMILIES, PROBES, probe_spec
from mockloop.security.findings import (
    SEVERITIES,
    Evidence,
    Finding,
    ProbeStatus,
    Severity,
)
from mockloop.security.runner import BudgetExhausted, Exchange, ProbeClient
from mockloop.security.target import SecurityTarget

__all__ = ["Handler", "ScanContext", "ScanOptions", "by_severity", "run_probes"]

# The burst that looks for a rate limit goes last: a server that does throttle would
# otherwise answer the probes after it with 429 and hide what they look for.
_LAST = ("API4.rate_limit",)


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
    ) -> Finding:
        """Record a finding of the running probe with the exchange that proves it."""
        pid = probe_id or self.current
        spec = probe_spec(pid)
        family = FAMILIES[spec.family]
        record = self.status(pid)
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
            title=title,
            description=description,
            evidence=Evidence(
                request=exchange.request_excerpt(),
                response=exchange.response_excerpt(),
                why=why,
                baseline=baseline.response_excerpt() if baseline is not None else None,
                extra=extra or {},
            ),
            remediation=spec.remediation,
        )
        self.findings.append(finding)
        return finding


Handler = Callable[[ScanContext], Awaitable[None]]


def _order(families: list[str]) -> list[str]:
    chosen = [pid for pid, spec in PROBES.items() if spec.family in families]
    return [p for p in chosen if p not in _LAST] + [p for p in _LAST if p in chosen]


async def run_probes(ctx: ScanContext, families: list[str], handlers: dict[str, Handler]) -> bool:
    """Run the chosen families' probes in order; True when the budget ran out."""
    order = _order(families)
    exhausted = False
    for done, probe_id in enumerate(order):
        ctx.current = probe_id
        record = ctx.status(probe_id)
        family = FAMILIES[probe_spec(probe_id).family]
        if not family.automatable:
            ctx.not_tested(f"not automatable: {family.why_not}")
            continue
        if exhausted:
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
