"""Test plan runs and security tests as report sections.

A test plan's checks are its steps (failed assertions make a failed check, an error an errored
one, a skipped step a skipped one). A security test's checks are its probes: a tested probe
without findings passed, one with findings failed (its findings are the evidence), a probe not
tested or skipped for the budget is skipped with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from mockloop.reports.formatting import count, number, share, truncate
from mockloop.reports.model import (
    OUTCOMES,
    Chart,
    ChartBar,
    Check,
    Figure,
    Outcome,
    ReportTable,
    RunReport,
    verdict_of,
)

__all__ = ["SEVERITIES", "plan_report", "security_report"]

SEVERITIES = ("critical", "high", "medium", "low", "info")
_SEVERITY_TONES = {
    "critical": "purple",
    "high": "red",
    "medium": "amber",
    "low": "blue",
    "info": "grey",
}
_OUTCOME_TONES = {"passed": "green", "failed": "red", "error": "purple", "skipped": "grey"}


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure cannot come from JSON; show it as Python does
        return repr(value)


def _value(value: Any) -> str:
    return truncate(_json(value), 120)


def _step_detail(step: dict[str, Any]) -> str:
    lines = []
    for check in step.get("assertions") or []:
        mark = "ok  " if check.get("passed") else "FAIL"
        line = f"{mark} {check.get('check', '')}: expected {_value(check.get('expected'))}, "
        line += f"got {_value(check.get('actual'))}"
        message = check.get("message")
        if message and not check.get("passed") and message not in line:
            line += f" ({message})"
        lines.append(line)
    request = step.get("request") or {}
    if request:
        lines.append(f"request: {request.get('method', '')} {request.get('url', '')}")
    response = step.get("response") or {}
    if response:
        lines.append(f"response: {response.get('status', '')}")
        body = response.get("body")
        if body not in (None, ""):
            lines.append("body: " + truncate(_json(body), 600))
    lines.extend(f"note: {note}" for note in step.get("notes") or [])
    return "\n".join(lines)


def _step_check(step: dict[str, Any]) -> Check:
    status = step.get("status", "error")
    outcome: Outcome = status if status in OUTCOMES else "error"
    failed = [a for a in step.get("assertions") or [] if not a.get("passed")]
    message = step.get("reason") or ""
    if not message and failed:
        first = failed[0]
        message = first.get("message") or (
            f"{first.get('check')}: expected {_value(first.get('expected'))}, "
            f"got {_value(first.get('actual'))}"
        )
    return Check(
        name=str(step.get("name") or f"step {step.get('index', '')}"),
        outcome=outcome,
        message=truncate(message, 400) if outcome != "passed" else "",
        detail=_step_detail(step),
        time_s=float(step.get("elapsed_ms") or 0.0) / 1000,
    )


def plan_report(result: dict[str, Any], run_id: str) -> RunReport:
    """A test plan run's section of the report."""
    steps = result.get("steps") or []
    checks = [_step_check(step) for step in steps]
    tally = {outcome: sum(1 for c in checks if c.outcome == outcome) for outcome in OUTCOMES}
    name = result.get("plan_name", "test plan")
    url = str(result.get("server_url", ""))
    assertion_rows = [
        [
            str(step.get("name", "")),
            str(a.get("check", "")),
            _value(a.get("expected")),
            _value(a.get("actual")),
            truncate(a.get("message") or "", 200),
        ]
        for step in steps
        for a in step.get("assertions") or []
        if not a.get("passed")
    ]
    tables = [
        ReportTable(
            title="Steps",
            columns=["#", "step", "operation", "outcome", "time ms", "reason"],
            rows=[
                [
                    str(step["index"] + 1) if isinstance(step.get("index"), int) else "",
                    str(step.get("name", "")),
                    str(step.get("operation") or ""),
                    str(step.get("status", "")),
                    number(step.get("elapsed_ms")),
                    truncate(step.get("reason") or "", 200),
                ]
                for step in steps
            ],
        )
    ]
    if assertion_rows:
        tables.append(
            ReportTable(
                title="Failed assertions",
                columns=["step", "check", "expected", "actual", "message"],
                rows=assertion_rows,
            )
        )
    charts = [
        Chart(
            id="step-outcomes",
            title="Plan step outcomes",
            kind="bar",
            x_label="outcome",
            y_label="steps",
            bars=[
                ChartBar(label=outcome, value=tally[outcome], tone=_OUTCOME_TONES[outcome])
                for outcome in OUTCOMES
            ],
        )
    ]
    total = len(checks)
    return RunReport(
        kind="test_plan",
        run_id=run_id,
        title=f"Test plan {name!r} on {url}",
        server_url=url,
        status=str(result.get("status", "")),
        started_at=result.get("started_at"),
        finished_at=result.get("finished_at"),
        duration_s=float(result.get("duration_ms") or 0.0) / 1000,
        verdict=verdict_of(checks),
        headline=(
            f"{total} steps: {tally['passed']} passed, {tally['failed']} failed, "
            f"{tally['error']} errors, {tally['skipped']} skipped (pass rate "
            f"{share(tally['passed'] / total if total else 0)})"
        ),
        figures=[
            Figure(label="Steps", value=count(total)),
            Figure(label="Passed", value=count(tally["passed"])),
            Figure(label="Failed", value=count(tally["failed"])),
            Figure(label="Errors", value=count(tally["error"])),
            Figure(label="Skipped", value=count(tally["skipped"])),
            Figure(label="Duration", value=f"{number(result.get('duration_ms'))} ms"),
        ],
        checks=checks,
        charts=charts,
        tables=tables,
        notes=list(result.get("notes") or []),
    )


def _finding_line(finding: dict[str, Any]) -> str:
    return (
        f"[{finding.get('severity', '?')}] {finding.get('title', '')} "
        f"({finding.get('operation', '')})"
    )


def _finding_detail(finding: dict[str, Any]) -> str:
    evidence = finding.get("evidence") or {}
    request = evidence.get("request") or {}
    response = evidence.get("response") or {}
    lines = [
        _finding_line(finding),
        f"category: {finding.get('category', '')}; {finding.get('cwe', '')}; "
        f"confidence {finding.get('confidence', '')}",
        f"why: {evidence.get('why', '')}",
        f"request: {request.get('method', '')} {request.get('url', '')}",
        f"response: {response.get('status', '')} {truncate(response.get('body') or '', 300)}",
        f"fix: {finding.get('remediation', '')}",
    ]
    return "\n".join(lines)


def _probe_checks(result: dict[str, Any]) -> list[Check]:
    findings = result.get("findings") or []
    by_probe: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_probe.setdefault(str(finding.get("probe", "")), []).append(finding)
    checks = []
    for probe in result.get("probes") or []:
        name = f"{probe.get('probe', '')}: {probe.get('title', '')}"
        found = by_probe.pop(str(probe.get("probe", "")), [])
        status = probe.get("status")
        if found:
            checks.append(
                Check(
                    name=name,
                    outcome="failed",
                    message=f"{len(found)} finding(s): " + "; ".join(map(_finding_line, found[:3])),
                    detail="\n\n".join(map(_finding_detail, found)),
                )
            )
        elif status == "tested":
            checks.append(
                Check(
                    name=name,
                    outcome="passed",
                    message=f"{count(probe.get('requests'))} request(s), no finding",
                )
            )
        else:
            reason = probe.get("reason") or (
                "the request budget ran out" if status == "skipped" else "not tested"
            )
            checks.append(Check(name=name, outcome="skipped", message=truncate(reason, 300)))
    for probe, found in by_probe.items():  # findings of probes the list does not name
        checks.append(
            Check(
                name=probe or "other findings",
                outcome="failed",
                message=f"{len(found)} finding(s): " + "; ".join(map(_finding_line, found[:3])),
                detail="\n\n".join(map(_finding_detail, found)),
            )
        )
    return checks


def security_report(result: dict[str, Any], run_id: str) -> RunReport:
    """A security test's section of the report."""
    findings = result.get("findings") or []
    probes = result.get("probes") or []
    severity = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITIES}
    order = {s: i for i, s in enumerate(SEVERITIES)}
    ranked = sorted(findings, key=lambda f: order.get(f.get("severity", ""), len(SEVERITIES)))
    tested = sum(1 for p in probes if p.get("status") == "tested")
    checks = _probe_checks(result)
    url = str(result.get("server_url", ""))
    tables = [
        ReportTable(
            title="Findings by severity",
            columns=["severity", "findings"],
            rows=[[s, count(severity[s])] for s in SEVERITIES],
        )
    ]
    if ranked:
        tables.append(
            ReportTable(
                title="Findings",
                columns=["severity", "title", "category", "CWE", "operation", "confidence"],
                rows=[
                    [
                        str(f.get("severity", "")),
                        str(f.get("title", "")),
                        str(f.get("category", "")),
                        str(f.get("cwe", "")),
                        str(f.get("operation", "")),
                        str(f.get("confidence", "")),
                    ]
                    for f in ranked
                ],
            )
        )
        tables.append(
            ReportTable(
                title="Evidence and remediation",
                columns=["finding", "evidence", "request", "response", "remediation"],
                rows=[
                    [
                        str(f.get("id", "")),
                        truncate((f.get("evidence") or {}).get("why", ""), 300),
                        truncate(
                            f"{((f.get('evidence') or {}).get('request') or {}).get('method', '')}"
                            f" {((f.get('evidence') or {}).get('request') or {}).get('url', '')}",
                            200,
                        ),
                        str(((f.get("evidence") or {}).get("response") or {}).get("status", "")),
                        truncate(f.get("remediation", ""), 300),
                    ]
                    for f in ranked
                ],
                level="comprehensive",
            )
        )
    if probes:
        tables.append(
            ReportTable(
                title="Probes",
                columns=["probe", "category", "status", "requests", "findings", "reason"],
                rows=[
                    [
                        str(p.get("probe", "")),
                        str(p.get("category", "")),
                        str(p.get("status", "")),
                        count(p.get("requests")),
                        count(p.get("findings")),
                        truncate(p.get("reason") or "", 200),
                    ]
                    for p in probes
                ],
                level="comprehensive",
            )
        )
    controls = [
        [str(report.get("framework", "")), str(c.get("control", "")), str(c.get("status", ""))]
        for report in result.get("compliance") or []
        for c in report.get("controls") or []
    ]
    if controls:
        tables.append(
            ReportTable(
                title="Compliance controls",
                columns=["framework", "control", "status"],
                rows=controls,
                level="comprehensive",
                note="judged only on what the probes could test",
            )
        )
    counts = ", ".join(f"{severity[s]} {s}" for s in SEVERITIES if severity[s])
    return RunReport(
        kind="security",
        run_id=run_id,
        title=f"Security test of {url}",
        server_url=url,
        status=str(result.get("status", "")),
        started_at=result.get("started_at"),
        finished_at=result.get("finished_at"),
        duration_s=float(result.get("elapsed_s") or 0.0),
        verdict=verdict_of(checks),
        headline=(
            f"{len(findings)} finding(s)"
            + (f" ({counts})" if counts else "")
            + f"; {tested} of {len(probes)} probes tested; {count(result.get('requests_sent'))}"
            f" of {count(result.get('max_requests'))} requests"
        ),
        figures=[
            Figure(label="Findings", value=count(len(findings))),
            *(Figure(label=s.capitalize(), value=count(severity[s])) for s in SEVERITIES[:4]),
            Figure(label="Probes tested", value=f"{tested} of {len(probes)}"),
            Figure(label="Requests", value=count(result.get("requests_sent"))),
        ],
        checks=checks,
        charts=[
            Chart(
                id="findings-by-severity",
                title="Security findings by severity",
                kind="bar",
                x_label="severity",
                y_label="findings",
                bars=[
                    ChartBar(label=s, value=severity[s], tone=_SEVERITY_TONES[s])
                    for s in SEVERITIES
                ],
            )
        ],
        tables=tables,
        notes=list(result.get("notes") or []),
    )
