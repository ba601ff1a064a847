"""What a report says, before it is rendered: one `RunReport` per run, in one `ReportDocument`.

Every renderer (HTML, Markdown, JUnit XML, JSON) reads this model, so the four formats tell the
same story from the same figures. A run's report holds its headline figures, its checks (the
pass/fail verdicts a CI system reads as test cases), its charts as data (series and bars taken
from the run's own numbers) and its tables. Tables and charts carry a level: "summary" ones
appear in the summary and comprehensive reports, "comprehensive" ones only in the latter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mockloop.results import Result

__all__ = [
    "OUTCOMES",
    "SUMMARY_CHECKS",
    "Chart",
    "ChartBar",
    "ChartSeries",
    "Check",
    "Figure",
    "Level",
    "Outcome",
    "ReportDocument",
    "ReportFormat",
    "ReportTable",
    "RunReport",
    "TestReportResult",
    "Verdict",
    "verdict_of",
]

Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")
Verdict = Literal["passed", "failed", "error", "no_checks"]
Level = Literal["summary", "comprehensive"]
ReportFormat = Literal["comprehensive", "summary", "executive"]
#: A summary lists every check of a run with at most this many, else only the failing ones.
SUMMARY_CHECKS = 15


class Figure(BaseModel):
    """One headline figure: a label and its value as shown (units included)."""

    label: str
    value: str


class Check(BaseModel):
    """One pass/fail verdict of a run: a JUnit test case, a row with a tick or a cross."""

    name: str
    outcome: Outcome
    message: str = Field(default="", description="one line: why it failed, errored or skipped")
    detail: str = Field(default="", description="the evidence, several lines")
    time_s: float = 0.0


class ChartSeries(BaseModel):
    """One line of a line chart: (x, y) points, in order."""

    name: str
    points: list[tuple[float, float]]
    tone: str = Field(default="blue", description="a colour name of the chart palette")


class ChartBar(BaseModel):
    """One bar of a bar chart."""

    label: str
    value: float
    tone: str = "blue"


class Chart(BaseModel):
    """A chart as data: a line chart has series, a bar chart has bars."""

    id: str = Field(description="stable name: latency-over-time, latency-histogram, ...")
    title: str
    kind: Literal["line", "bar"]
    x_label: str = ""
    y_label: str = ""
    series: list[ChartSeries] = Field(default_factory=list)
    bars: list[ChartBar] = Field(default_factory=list)
    note: str = ""
    level: Level = "summary"


class ReportTable(BaseModel):
    """A table of a run's details (cells are text as shown)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    level: Level = "summary"
    note: str = ""


class RunReport(BaseModel):
    """Everything a report shows about one run."""

    kind: str = Field(description="load, test_plan, iteration or security")
    run_id: str
    title: str
    server_url: str = ""
    status: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float = 0.0
    verdict: Verdict
    headline: str = Field(description="one sentence with the run's main figures")
    figures: list[Figure] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    tables: list[ReportTable] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="warnings and notes of the run")

    def tables_for(self, report_format: ReportFormat) -> list[ReportTable]:
        """The tables a report of `report_format` shows (none in an executive one)."""
        return [t for t in self.tables if _shown(t.level, report_format)]

    def charts_for(self, report_format: ReportFormat) -> list[Chart]:
        """The charts a report of `report_format` shows (none in an executive one)."""
        return [c for c in self.charts if _shown(c.level, report_format)]

    def checks_for(self, report_format: ReportFormat) -> tuple[list[Check], int]:
        """The checks to list, and how many passed ones are left out.

        A comprehensive report lists every check; a summary every check of a run with at most
        SUMMARY_CHECKS of them, else only those that did not pass; an executive one only
        those that did not pass.
        """
        if report_format == "comprehensive" or (
            report_format == "summary" and len(self.checks) <= SUMMARY_CHECKS
        ):
            return list(self.checks), 0
        shown = [c for c in self.checks if c.outcome != "passed"]
        return shown, len(self.checks) - len(shown)


class ReportDocument(BaseModel):
    """The whole report: its runs and their totals."""

    title: str
    generated_at: float
    report_format: ReportFormat
    include_charts: bool
    verdict: Verdict
    runs: list[RunReport]
    totals: dict[str, int] = Field(description="checks by outcome, over every run")


def _shown(level: Level, report_format: ReportFormat) -> bool:
    if report_format == "executive":
        return False
    return report_format == "comprehensive" or level == "summary"


def verdict_of(checks: list[Check]) -> Verdict:
    """error when a check errored, failed when one failed, passed when some passed."""
    outcomes = {check.outcome for check in checks}
    if "error" in outcomes:
        return "error"
    if "failed" in outcomes:
        return "failed"
    return "passed" if "passed" in outcomes else "no_checks"


class TestReportResult(Result):
    """A generated report: its text, where it was written, and the verdicts it tells."""

    __test__ = False
    output_format: str = Field(description="json, markdown, html or junit")
    report_format: str = Field(description="comprehensive, summary or executive")
    title: str
    content: str = Field(description="the report itself, as text")
    path: str | None = Field(default=None, description="the file written, when output_path given")
    size_bytes: int = Field(description="the report's size in UTF-8 bytes")
    verdict: str = Field(description="passed, failed, error or no_checks, over every run")
    runs: int
    run_ids: list[str]
    checks: dict[str, int] = Field(description="checks by outcome: passed, failed, error, skipped")
    failing_checks: list[str] = Field(
        default_factory=list, description="the first 20 failed or errored checks, with their run"
    )
    charts: list[str] = Field(
        default_factory=list, description="the charts drawn, as RUN_ID:CHART (html, json)"
    )

    def summary(self, limit: int = 600) -> str:
        """Format, where it went, verdict and check counts, the first failing checks."""
        where = f"written to {self.path}" if self.path else "returned in content"
        c = self.checks
        text = (
            f"{self.report_format} {self.output_format} report of {self.runs} run(s) "
            f"({self.size_bytes:,} bytes) {where}: verdict {self.verdict}; checks "
            f"{c.get('passed', 0)} passed, {c.get('failed', 0)} failed, {c.get('error', 0)} "
            f"errors, {c.get('skipped', 0)} skipped"
        )
        if self.charts:
            text += f"; {len(self.charts)} chart(s)"
        if self.failing_checks:
            text += "; not passing: " + "; ".join(self.failing_checks[:5])
        return text if len(text) <= limit else text[: limit - 3] + "..."
