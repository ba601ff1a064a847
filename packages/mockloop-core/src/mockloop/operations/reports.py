"""Reports of test runs: HTML with charts, Markdown, JUnit XML and JSON."""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import TestResults
from mockloop.reports import (
    OUTPUT_FORMATS,
    OutputFormat,
    ReportDocument,
    ReportFormat,
    build_document,
    gather_runs,
    render,
)
from mockloop.reports.model import TestReportResult

__all__ = ["ReportOperations", "TestReportResult", "write_report"]

_REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)


def refuse_existing(path: Path, what: str) -> None:
    """ConfigError when `path` exists: a report or export never replaces a file unasked."""
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{what} {str(path)!r} exists already; pass overwrite=True (CLI: --overwrite) to "
            "replace it, or give another path"
        )


def write_file(content: str, path: Path, what: str, overwrite: bool) -> str:
    """Write `content` to `path` atomically (folders created); its full path.

    Without `overwrite` an existing file is refused (ConfigError), also one that appears
    while the content is written: the finished file is hard-linked into place, which fails
    when the name is taken.
    """
    try:
        # Inside the try: a name the file system refuses (too long, a bad byte) is an OSError
        # as early as is_dir().
        if path.is_dir():
            raise ConfigError(f"{what} {_shown(path)} is a folder: give a file path")
        if not overwrite:
            refuse_existing(path, what)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(content, encoding="utf-8")
        if overwrite:
            partial.replace(path)
        else:
            try:
                os.link(partial, path)
            except FileExistsError:
                partial.unlink(missing_ok=True)
                refuse_existing(path, what)
                raise
            except OSError:  # a file system without hard links: check, then rename
                refuse_existing(path, what)
                partial.replace(path)
            else:
                partial.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {what} {_shown(path)}: {exc.strerror or exc}; give another path"
        ) from None
    return str(path.resolve())


def _shown(path: Path, limit: int = 200) -> str:
    """A path for an error message: quoted, and cut when a stranger made it enormous."""
    text = str(path)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def write_report(content: str, output_path: str, overwrite: bool = False) -> str:
    """Write `content` to `output_path` (folders created, written atomically); its full path.

    An existing file is replaced only with `overwrite`; else ConfigError names it.
    """
    return write_file(content, Path(output_path).expanduser(), "output_path", overwrite)


def _result(
    document: ReportDocument, output_format: OutputFormat, content: str, path: str | None
) -> TestReportResult:
    failing = [
        f"{check.name} ({run.kind} {run.run_id}): {check.message}"
        for run in document.runs
        for check in run.checks
        if check.outcome in ("failed", "error")
    ]
    charts = (
        [
            f"{run.run_id}:{chart.id}"
            for run in document.runs
            for chart in run.charts_for(document.report_format)
        ]
        if output_format in ("html", "json")
        else []
    )
    return TestReportResult(
        output_format=output_format,
        report_format=document.report_format,
        title=document.title,
        content=content,
        path=path,
        size_bytes=len(content.encode("utf-8")),
        verdict=document.verdict,
        runs=len(document.runs),
        run_ids=[run.run_id for run in document.runs],
        checks=dict(document.totals),
        failing_checks=failing[:20],
        charts=charts,
    )


class ReportOperations(OperationsBase):
    """Reports of test runs: HTML with charts, Markdown, JUnit XML and JSON."""

    @operation(group="reports")
    async def generate_test_report(
        self,
        test_results: TestResults = None,
        report_format: ReportFormat = "comprehensive",
        include_charts: bool = True,
        output_format: OutputFormat = "json",
        run_ids: list[str] | None = None,
        output_path: str | None = None,
        title: str | None = None,
        overwrite: bool = False,
    ) -> TestReportResult:
        """Write a report of test runs: HTML with charts, Markdown for pull requests, JUnit XML.

        Reports load runs, test plan runs, test iterations and security tests, from their
        results or their stored run ids. Every figure, chart and verdict comes from the runs'
        own numbers. html: one self-contained page (no script, nothing fetched, works
        offline) with SVG charts of latency over time, the latency histogram, throughput,
        status codes, security findings by severity and plan step outcomes. markdown: a
        pull-request summary (headline figures, thresholds with ✅/❌, slowest operations,
        failed steps, findings by severity). junit: one testsuite per run, one testcase per
        check (a load run's thresholds, a plan's steps, a security test's probes; failures
        and errors with their evidence) for CI. json: the report's data.

        Args:
            test_results: what to report: a result of run_load_test, execute_test_plan,
                run_test_iteration or run_security_test, its JSON, a run id, or a list of
                these.
            report_format: "comprehensive" (every table, chart and check with its evidence),
                "summary" (headline figures, charts, thresholds, failing checks, the main
                tables) or "executive" (the overall verdict, one line per run and the top
                issues; no charts).
            include_charts: draw the charts (html: SVG; markdown: sparklines and text bars;
                json: chart data); False leaves them out.
            output_format: "json", "markdown", "html" or "junit".
            run_ids: stored run ids to report as well (load runs and the runs in test
                sessions, from MOCKLOOP_HOME).
            output_path: also write the report to this file (folders are created); an
                existing file is an error unless overwrite is True.
            title: the report's title (default: the run's title, or "MockLoop test report:
                N runs").
            overwrite: replace output_path when it exists already (default False: refuse).
        """
        if report_format not in _REPORT_FORMATS:
            raise ConfigError(
                f"unknown report_format {report_format!r}; use one of {', '.join(_REPORT_FORMATS)}"
            )
        if output_format not in OUTPUT_FORMATS:
            raise ConfigError(
                f"unknown output_format {output_format!r}; use one of {', '.join(OUTPUT_FORMATS)}"
            )
        if run_ids is not None and (
            not isinstance(run_ids, list) or not all(isinstance(i, str) for i in run_ids)
        ):
            raise ConfigError("run_ids must be a list of run id strings")
        runs = await self._in_thread(gather_runs, test_results, run_ids)
        document = build_document(
            runs, report_format=report_format, include_charts=include_charts, title=title
        )
        content = render(document, output_format)
        path = None
        if output_path is not None:
            path = await self._in_thread(write_report, content, output_path, overwrite)
        return _result(document, output_format, content, path)
