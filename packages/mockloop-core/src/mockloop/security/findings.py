"""What a security test reports: findings with evidence, the status of every probe, the
compliance view and the result of the whole run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mockloop.results import Result

__all__ = [
    "MAX_AFFECTED_EVIDENCE",
    "SEVERITIES",
    "AffectedOperation",
    "ComplianceControl",
    "ComplianceReport",
    "Evidence",
    "FamilyCoverage",
    "Finding",
    "ProbeStatus",
    "RequestExcerpt",
    "ResponseExcerpt",
    "SecurityTestResult",
    "Severity",
]

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
# Evidence kept per finding for the operations after the first: enough to show the pattern
# without one flaw on a hundred operations filling the result.
MAX_AFFECTED_EVIDENCE = 10


class RequestExcerpt(BaseModel):
    """A request as it was sent, credentials redacted, body cut to an excerpt."""

    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None


class ResponseExcerpt(BaseModel):
    """A response as it came back: status (0: no answer), a few headers, a body excerpt."""

    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""
    elapsed_ms: float = 0.0
    error: str | None = Field(default=None, description="why there was no answer, if none")


class Evidence(BaseModel):
    """The exchange that proves a finding and the comparison that makes it one."""

    request: RequestExcerpt
    response: ResponseExcerpt
    why: str = Field(description="the comparison that proved it (against which baseline)")
    baseline: ResponseExcerpt | None = Field(
        default=None, description="the legitimate or reference response compared against"
    )
    extra: dict[str, Any] = Field(default_factory=dict)


class AffectedOperation(BaseModel):
    """One more operation a flaw was proved on, with the exchange that proves it there."""

    operation: str
    evidence: Evidence


class Finding(BaseModel):
    """One flaw a probe proved, with every operation it was proved on."""

    id: str = Field(description="stable within the run: probe id and a counter")
    probe: str
    family: str
    category: str = Field(description='e.g. "API1:2023 Broken Object Level Authorization"')
    cwe: str
    severity: Severity
    confidence: Literal["confirmed", "firm", "tentative"]
    operation: str = Field(
        description='the first affected operation: "GET /users/{id}", or the probed path'
    )
    operations: list[str] = Field(
        default_factory=list,
        description="every operation the flaw was proved on, `operation` first",
    )
    title: str
    description: str
    evidence: Evidence
    remediation: str
    affected: list[AffectedOperation] = Field(
        default_factory=list,
        description="evidence for the operations after the first (at most "
        f"{MAX_AFFECTED_EVIDENCE}; `operations` lists them all)",
    )


class ProbeStatus(BaseModel):
    """What became of one probe in this run."""

    probe: str
    family: str
    category: str
    title: str
    status: Literal["tested", "not_tested", "skipped"] = Field(
        description="tested; not_tested (with the reason); skipped (the request budget ran out)"
    )
    reason: str = ""
    requests: int = 0
    findings: int = 0
    notes: list[str] = Field(default_factory=list)
    operations_covered: list[str] = Field(
        default_factory=list, description="operations this probe sent its payloads to"
    )
    operations_left: list[str] = Field(
        default_factory=list,
        description="operations it applies to but left unprobed (or probed only in part) "
        "because the request budget ran short",
    )


class FamilyCoverage(BaseModel):
    """Which operations one probe family reached and which it left for lack of budget."""

    family: str
    operations_covered: list[str] = Field(default_factory=list)
    operations_left: list[str] = Field(
        default_factory=list,
        description="operations some probe of the family applies to but could not pay for",
    )


class ComplianceControl(BaseModel):
    """One control of a framework, judged only on what the probes could test."""

    control: str
    title: str
    status: Literal["failed", "passed", "partially_tested", "not_tested"]
    probe_families: list[str]
    findings: list[str] = Field(default_factory=list, description="finding ids against it")
    untested_families: list[str] = Field(default_factory=list)
    establishes: str = Field(default="", description="what the probes establish for it")
    not_covered: str = Field(description="what automated probes cannot establish for it")


class ComplianceReport(BaseModel):
    """A framework's controls as far as this run's probes speak to them."""

    framework: str
    title: str
    controls: list[ComplianceControl]
    failed: int
    passed: int
    not_tested: int
    statement: str


class SecurityTestResult(Result):
    """The outcome of run_security_test."""

    run_id: str
    server_url: str
    status: Literal["completed", "budget_exhausted"]
    description_source: str | None = Field(
        default=None, description="where the API description came from (None: spec-free run)"
    )
    spec_free: bool = False
    started_at: float
    finished_at: float
    elapsed_s: float
    requests_sent: int
    max_requests: int
    rate_limit_rps: float
    findings: list[Finding] = Field(default_factory=list)
    probes: list[ProbeStatus] = Field(default_factory=list)
    categories_tested: list[str] = Field(default_factory=list)
    categories_not_tested: list[str] = Field(default_factory=list)
    summary_by_severity: dict[str, int] = Field(default_factory=dict)
    compliance: list[ComplianceReport] = Field(default_factory=list)
    coverage: list[FamilyCoverage] = Field(
        default_factory=list, description="per probe family: operations covered and left"
    )
    notes: list[str] = Field(default_factory=list)
    session_id: str | None = None

    def summary(self, limit: int = 900) -> str:
        """Counts by severity, the worst findings, coverage and the budget used."""
        counts = ", ".join(
            f"{self.summary_by_severity.get(s, 0)} {s}"
            for s in SEVERITIES
            if self.summary_by_severity.get(s, 0)
        )
        head = (
            f"Security test of {self.server_url}: {len(self.findings)} finding(s)"
            + (f" ({counts})" if counts else "")
            + f"; {self.requests_sent}/{self.max_requests} requests in {self.elapsed_s:.1f} s"
        )
        if self.status == "budget_exhausted":
            skipped = sum(1 for p in self.probes if p.status == "skipped")
            head += f"; budget exhausted, {skipped} probe(s) skipped"
        order = {s: i for i, s in enumerate(SEVERITIES)}
        worst = sorted(self.findings, key=lambda f: order[f.severity])[:3]
        parts = [head + "."]
        if worst:
            parts.append(
                "Top: " + "; ".join(f"[{f.severity}] {f.title} ({_where(f)})" for f in worst) + "."
            )
        tested = ", ".join(self.categories_tested) or "none"
        parts.append(f"Categories tested: {tested}.")
        left = {op for c in self.coverage for op in c.operations_left}
        if left:
            parts.append(
                f"{len(left)} operation(s) left unprobed by some family for lack of budget."
            )
        if self.spec_free:
            parts.append("No API description: spec-free probes only.")
        text = " ".join(parts)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(finding: Finding) -> str:
    more = len(finding.operations) - 1
    return finding.operation + (f" and {more} more" if more > 0 else "")
