"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Everything that came from a run (URLs, response bodies, probe payloads) is escaped, and the page
carries a Content-Security-Policy that allows no script and no outside resource, so a report of
a security test whose evidence holds `<script>` payloads stays inert when opened.
"""

from __future__ import annotations

from html import escape

from mockloop.reports.charts import render_chart
from mockloop.reports.formatting import number, timestamp
from mockloop.reports.model import Check, ReportDocument, ReportFormat, ReportTable, RunReport

__all__ = ["render_html"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_LABELS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "no_checks": "NO CHECKS"}
_MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "\u2013"}
_KINDS = {
    "load": "load test",
    "test_plan": "test plan",
    "iteration": "test iteration",
    "security": "security test",
}

_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827;
  background: #f3f4f6; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
header.report { display: flex; align-items: center; justify-content: space-between;
  gap: 16px; margin-bottom: 16px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.meta { color: #4b5563; margin: 0; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 20px;
  margin-bottom: 20px; }
.verdict { font-weight: 700; border-radius: 6px; padding: 4px 12px; white-space: nowrap; }
.verdict-passed { background: #dcfce7; color: #166534; }
.verdict-failed { background: #fee2e2; color: #991b1b; }
.verdict-error { background: #ede9fe; color: #5b21b6; }
.verdict-no_checks { background: #e5e7eb; color: #374151; }
.run-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; }
.headline { margin: 8px 0 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr));
  gap: 8px; margin: 12px 0; }
.figure { background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 10px; }
.figure .label { color: #6b7280; font-size: 12px; }
.figure .value { font-size: 17px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; }
figcaption { color: #4b5563; font-size: 12px; }
figcaption strong { color: #111827; font-size: 13px; }
svg.chart { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #f9fafb; font-weight: 600; }
.outcome { font-weight: 700; white-space: nowrap; }
.outcome-passed { color: #15803d; }
.outcome-failed { color: #b91c1c; }
.outcome-error { color: #6d28d9; }
.outcome-skipped { color: #6b7280; }
details pre { white-space: pre-wrap; background: #f9fafb; border: 1px solid #e5e7eb;
  border-radius: 4px; padding: 8px; margin: 6px 0 0; font-size: 12px; }
.note { color: #92400e; background: #fffbeb; border-left: 3px solid #f59e0b;
  padding: 6px 10px; margin: 6px 0; }
.table-note { color: #6b7280; font-size: 12px; margin: 0 0 4px; }
footer { color: #6b7280; font-size: 12px; text-align: center; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(table: ReportTable) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    note = f'<p class="table-note">{_e(table.note)}</p>' if table.note else ""
    return (
        f"<h3>{_e(table.title)}</h3>{note}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _check_row(check: Check, details: bool) -> str:
    message = _e(check.message)
    if details and check.detail:
        message += f"<details><summary>evidence</summary><pre>{_e(check.detail)}</pre></details>"
    return (
        f'<tr class="check" data-outcome="{check.outcome}">'
        f'<td class="outcome outcome-{check.outcome}">{_MARKS[check.outcome]} '
        f"{check.outcome}</td><td>{_e(check.name)}</td><td>{message}</td></tr>"
    )


def _checks(run: RunReport, report_format: ReportFormat) -> str:
    checks, hidden = run.checks_for(report_format)
    if not checks and not hidden:
        return ""
    rows = "".join(_check_row(c, report_format == "comprehensive") for c in checks)
    more = f'<p class="table-note">{hidden} passing check(s) not listed</p>' if hidden else ""
    return (
        f"<h3>Checks</h3>{more}<table><thead><tr><th>result</th><th>check</th>"
        f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _run(run: RunReport, index: int, report_format: ReportFormat) -> str:
    meta = [
        f"{_KINDS.get(run.kind, run.kind)} <code>{_e(run.run_id)}</code>",
        f"status {_e(run.status or '-')}",
        f"started {_e(timestamp(run.started_at))}",
        f"{_e(number(run.duration_s))} s",
    ]
    figures = "".join(
        f'<div class="figure"><div class="label">{_e(f.label)}</div>'
        f'<div class="value">{_e(f.value)}</div></div>'
        for f in run.figures
    )
    charts = "".join(
        f"<figure>{render_chart(chart, f'run{index}-{chart.id}')}"
        f"<figcaption><strong>{_e(chart.title)}</strong>"
        + (f" — {_e(chart.note)}" if chart.note else "")
        + "</figcaption></figure>"
        for chart in run.charts_for(report_format)
    )
    tables = "".join(_table(t) for t in run.tables_for(report_format))
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in run.notes)
    return (
        f'<section class="run" id="run-{index}" data-run-id="{_e(run.run_id)}" '
        f'data-kind="{_e(run.kind)}" data-verdict="{run.verdict}">'
        f'<div class="run-head"><div><h2>{_e(run.title)}</h2>'
        f'<p class="meta">{" · ".join(meta)}</p></div>'
        f'<span class="verdict verdict-{run.verdict}">{_LABELS[run.verdict]}</span></div>'
        f'<p class="headline">{_e(run.headline)}</p>'
        f'<div class="figures">{figures}</div>'
        + (f'<div class="charts">{charts}</div>' if charts else "")
        + _checks(run, report_format)
        + tables
        + notes
        + "</section>"
    )


def _overview(document: ReportDocument) -> str:
    rows = "".join(
        f'<tr><td><a href="#run-{i}">{_e(run.title)}</a></td>'
        f"<td>{_e(_KINDS.get(run.kind, run.kind))}</td><td><code>{_e(run.run_id)}</code></td>"
        f'<td><span class="verdict verdict-{run.verdict}">{_LABELS[run.verdict]}</span></td>'
        f"<td>{_e(run.headline)}</td></tr>"
        for i, run in enumerate(document.runs)
    )
    t = document.totals
    totals = (
        f"{t.get('passed', 0)} checks passed, {t.get('failed', 0)} failed, "
        f"{t.get('error', 0)} errors, {t.get('skipped', 0)} skipped"
    )
    body = (
        f'<section class="overview"><h2>Runs</h2><p class="meta">{_e(totals)}</p>'
        "<table><thead><tr><th>run</th><th>kind</th><th>id</th><th>verdict</th>"
        f"<th>figures</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    if document.report_format == "executive":
        issues = [
            (run, check)
            for run in document.runs
            for check in run.checks
            if check.outcome in ("failed", "error")
        ]
        if issues:
            items = "".join(
                f"<li><strong>{_e(check.name)}</strong> ({_e(run.title)}): {_e(check.message)}</li>"
                for run, check in issues[:10]
            )
            more = f"<p class='meta'>and {len(issues) - 10} more</p>" if len(issues) > 10 else ""
            body += f"<h3>Top issues</h3><ul>{items}</ul>{more}"
    return body + "</section>"


def render_html(document: ReportDocument) -> str:
    """The report as one self-contained HTML page."""
    fmt = document.report_format
    runs = (
        ""
        if fmt == "executive"
        else "".join(_run(run, i, fmt) for i, run in enumerate(document.runs))
    )
    from mockloop.version import __version__

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(document.title)}</title><style>{_STYLE}</style></head>"
        f'<body><main data-verdict="{document.verdict}" data-format="{fmt}">'
        f'<header class="report"><div><h1>{_e(document.title)}</h1>'
        f'<p class="meta">{fmt} report of {len(document.runs)} run(s), generated '
        f"{_e(timestamp(document.generated_at))}</p></div>"
        f'<span class="verdict verdict-{document.verdict}" id="verdict">'
        f"{_LABELS[document.verdict]}</span></header>"
        f"{_overview(document)}{runs}"
        f"<footer>MockLoop {_e(__version__)}</footer></main></body></html>\n"
    )
