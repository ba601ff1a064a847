"""Reports of test runs: one model of what the runs showed, rendered as HTML (with inline SVG
charts), Markdown, JUnit XML or JSON.

Every text of the document goes through the shared redaction (`mockloop.redaction`) as it is
rendered: the runs' stores are redacted already, and a secret in a result handed in directly
(or stored before redaction reached it) still never reaches a report.
"""

from __future__ import annotations

from typing import Literal

from mockloop.redaction import redact_value
from mockloop.reports.document import ReportRuns, build_document, gather_runs
from mockloop.reports.html import render_html
from mockloop.reports.junit import render_junit
from mockloop.reports.markdown import render_markdown
from mockloop.reports.model import ReportDocument, ReportFormat, RunReport

__all__ = [
    "OUTPUT_FORMATS",
    "OutputFormat",
    "ReportDocument",
    "ReportFormat",
    "ReportRuns",
    "RunReport",
    "build_document",
    "gather_runs",
    "render",
]

OutputFormat = Literal["json", "markdown", "html", "junit"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("json", "markdown", "html", "junit")


def render(document: ReportDocument, output_format: OutputFormat) -> str:
    """The document as text in `output_format`, secrets redacted."""
    document = ReportDocument.model_validate(redact_value(document.model_dump(mode="json")))
    if output_format == "html":
        return render_html(document)
    if output_format == "markdown":
        return render_markdown(document)
    if output_format == "junit":
        return render_junit(document)
    fmt = document.report_format
    runs = [
        run.model_copy(update={"tables": run.tables_for(fmt), "charts": run.charts_for(fmt)})
        for run in document.runs
    ]
    return document.model_copy(update={"runs": runs}).model_dump_json(indent=2) + "\n"
