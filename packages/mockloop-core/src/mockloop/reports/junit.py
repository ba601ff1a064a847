"""The JUnit XML report, in the dialect Jenkins, GitLab, GitHub Actions reporters and Ant read.

`<testsuites>` holds one `<testsuite>` per run; a run's checks are its `<testcase>`s: a failed
check has a `<failure>`, an errored one an `<error>`, a skipped one a `<skipped>`, each with the
check's message and its evidence as text. A load run's testcases are its thresholds plus "run
completed" (and "no request errors" unless an error_rate threshold judges errors); a test plan's
are its steps; a security test's are its probes, findings as failures. The report format does
not thin JUnit output: CI needs every check.
"""

from __future__ import annotations

import re
import socket
import time
import xml.etree.ElementTree as ET

from mockloop.reports.model import ReportDocument, RunReport

__all__ = ["render_junit"]

# Characters XML 1.0 cannot hold at all (response bodies can carry any byte).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _suite(run: RunReport, host: str) -> ET.Element:
    tally = {
        outcome: sum(1 for c in run.checks if c.outcome == outcome)
        for outcome in ("failed", "error", "skipped")
    }
    attributes = {
        "name": _clean(run.title),
        "tests": str(len(run.checks)),
        "failures": str(tally["failed"]),
        "errors": str(tally["error"]),
        "skipped": str(tally["skipped"]),
        "time": _seconds(run.duration_s),
        "hostname": _clean(host),
        "id": _clean(run.run_id),
        "package": f"mockloop.{run.kind}",
    }
    if run.started_at is not None:
        attributes["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(run.started_at))
    suite = ET.Element("testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", run.run_id),
        ("kind", run.kind),
        ("server_url", run.server_url),
        ("status", run.status),
        ("verdict", run.verdict),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    classname = f"mockloop.{run.kind}.{run.run_id}"
    for check in run.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": _clean(check.name),
                "classname": _clean(classname),
                "time": _seconds(check.time_s),
            },
        )
        if check.outcome == "passed":
            if check.message:
                ET.SubElement(case, "system-out").text = _clean(check.message)
            continue
        tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[check.outcome]
        element = ET.SubElement(case, tag, {"message": _clean(check.message)})
        if tag != "skipped":
            element.set("type", f"mockloop.{run.kind}")
            element.text = _clean(check.detail or check.message)
    lines = [run.headline, *(f"{f.label}: {f.value}" for f in run.figures)]
    lines += [f"note: {note}" for note in run.notes]
    ET.SubElement(suite, "system-out").text = _clean("\n".join(lines))
    return suite


def render_junit(document: ReportDocument) -> str:
    """The report as JUnit XML (UTF-8, with the XML declaration)."""
    host = socket.gethostname() or "localhost"
    t = document.totals
    root = ET.Element(
        "testsuites",
        {
            "name": _clean(document.title),
            "tests": str(sum(t.values())),
            "failures": str(t.get("failed", 0)),
            "errors": str(t.get("error", 0)),
            "time": _seconds(sum(run.duration_s for run in document.runs)),
        },
    )
    for run in document.runs:
        root.append(_suite(run, host))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
