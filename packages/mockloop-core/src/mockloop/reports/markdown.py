"""The Markdown report: a pull-request comment's worth of figures, verdicts and failures.

Charts become text that any Markdown viewer shows: a line chart is a sparkline per series
(with its lowest and highest value), a bar chart a block of text bars with their values.
"""

from __future__ import annotations

import re

from mockloop.reports.formatting import number, timestamp
from mockloop.reports.model import (
    Chart,
    Check,
    ReportDocument,
    ReportFormat,
    ReportTable,
    RunReport,
)

__all__ = ["render_markdown", "sparkline"]

_ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️", "no_checks": "\u2796"}
_TICKS = "▁▂▃▄▅▆▇█"
_BAR_WIDTH = 30
_SPARK_WIDTH = 60


def _cell(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |"]
    lines.append("|" + "|".join(" --- " for _ in columns) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def sparkline(values: list[float], width: int = _SPARK_WIDTH) -> str:
    """The values as block characters (taking each bucket's highest when there are more
    values than `width`), scaled from 0 to the highest value."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [
            max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)])
            for i in range(width)
        ]
    top = max(values)
    if top <= 0:
        return _TICKS[0] * len(values)
    return "".join(_TICKS[min(len(_TICKS) - 1, int(v / top * (len(_TICKS) - 1)))] for v in values)


def _text_bars(chart: Chart) -> list[str]:
    top = max((bar.value for bar in chart.bars), default=0) or 1
    width = max(len(bar.label) for bar in chart.bars)
    lines = []
    for bar in chart.bars:
        eighths = round(bar.value / top * _BAR_WIDTH * 8)
        drawn = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        lines.append(f"{bar.label:<{width}} {drawn:<{_BAR_WIDTH}} {number(bar.value)}")
    return lines


def _chart(chart: Chart) -> list[str]:
    lines = [f"**{chart.title}**" + (f" ({chart.y_label})" if chart.y_label else ""), ""]
    if chart.kind == "line":
        lines.append("```text")
        width = max((len(s.name) for s in chart.series), default=0)
        for series in chart.series:
            values = [y for _, y in series.points]
            if not values:
                continue
            lines.append(
                f"{series.name:<{width}} {sparkline(values)}  "
                f"min {number(min(values))}, max {number(max(values))}"
            )
        lines.append("```")
    elif chart.bars:
        lines += ["```text", *_text_bars(chart), "```"]
    return [*lines, ""]


def _checks(run: RunReport, report_format: ReportFormat) -> list[str]:
    checks, hidden = run.checks_for(report_format)
    if not checks and not hidden:
        return []
    lines = ["**Checks**", ""]
    if checks:
        lines += _table(
            ["", "check", "result"], [[_ICONS[c.outcome], c.name, c.message] for c in checks]
        )
    if hidden:
        lines.append(f"\n_{hidden} passing check(s) not listed._")
    return [*lines, ""]


def _evidence(checks: list[Check]) -> list[str]:
    shown = [c for c in checks if c.outcome in ("failed", "error") and c.detail]
    if not shown:
        return []
    lines = ["<details><summary>Evidence of what failed</summary>", ""]
    for check in shown:
        # A fence longer than any run of backticks in the evidence, so it cannot close early.
        longest = max((len(run) for run in re.findall(r"`+", check.detail)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += [f"**{_cell(check.name)}**", "", f"{fence}text", check.detail, fence, ""]
    return [*lines, "</details>", ""]


def _tables(tables: list[ReportTable]) -> list[str]:
    lines = []
    for table in tables:
        lines += [f"**{_cell(table.title)}**" + (f" ({table.note})" if table.note else ""), ""]
        lines += [*_table(table.columns, table.rows), ""]
    return lines


def _run(run: RunReport, report_format: ReportFormat) -> list[str]:
    lines = [
        f"## {_ICONS[run.verdict]} {run.title}",
        "",
        f"`{run.run_id}` · {run.status or '-'} · started {timestamp(run.started_at)} · "
        f"{number(run.duration_s)} s",
        "",
        run.headline,
        "",
        *_table([f.label for f in run.figures], [[f.value for f in run.figures]]),
        "",
    ]
    for chart in run.charts_for(report_format):
        lines += _chart(chart)
    lines += _checks(run, report_format)
    lines += _tables(run.tables_for(report_format))
    if report_format == "comprehensive":
        lines += _evidence(run.checks)
    lines += [f"> ⚠️ {_cell(note)}" for note in run.notes]
    return [*lines, ""] if run.notes else lines


def render_markdown(document: ReportDocument) -> str:
    """The report as Markdown (GitHub flavoured: tables, <details>)."""
    fmt = document.report_format
    t = document.totals
    lines = [
        f"# {_ICONS[document.verdict]} {document.title}",
        "",
        f"**Verdict: {document.verdict.replace('_', ' ')}** · {len(document.runs)} run(s) · "
        f"checks: {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
        f"{t.get('error', 0)} errors, {t.get('skipped', 0)} skipped · generated "
        f"{timestamp(document.generated_at)}",
        "",
        *_table(
            ["", "run", "id", "figures"],
            [[_ICONS[r.verdict], r.title, f"{r.run_id}", r.headline] for r in document.runs],
        ),
        "",
    ]
    if fmt == "executive":
        issues = [
            (run, c)
            for run in document.runs
            for c in run.checks
            if c.outcome in ("failed", "error")
        ]
        if issues:
            lines += ["**Top issues**", ""]
            lines += [
                f"- {_ICONS[c.outcome]} **{_cell(c.name)}** ({_cell(r.title)}): {_cell(c.message)}"
                for r, c in issues[:10]
            ]
            if len(issues) > 10:
                lines.append(f"- and {len(issues) - 10} more")
            lines.append("")
    else:
        for run in document.runs:
            lines += _run(run, fmt)
    return "\n".join(lines).rstrip() + "\n"
