"""Load runs and test iterations as report sections: figures, checks, charts and tables.

A load run's checks are its thresholds (one check each), "run completed" (the run reached its
planned end) and, when no error_rate threshold judges errors already, "no request errors". Its
charts come from its own numbers: the per-second time series (latency percentiles and
throughput), the HDR histogram's recorded values (the latency histogram) and the status counts.
"""

from __future__ import annotations

from typing import Any

from mockloop.load.histogram import decode_histogram
from mockloop.reports.formatting import count, ms, number, share
from mockloop.reports.model import (
    Chart,
    ChartBar,
    ChartSeries,
    Check,
    Figure,
    ReportTable,
    RunReport,
    verdict_of,
)

__all__ = ["iteration_report", "latency_bins", "load_charts", "load_report", "status_tone"]

#: Most bars a latency histogram gets.
HISTOGRAM_BINS = 20


def status_tone(status: str) -> str:
    """The colour of a status code's bar: 2xx green, 3xx blue, 4xx amber, 5xx red."""
    return {"2": "green", "3": "blue", "4": "amber", "5": "red"}.get(status[:1], "grey")


def latency_bins(encoded: str, bins: int = HISTOGRAM_BINS) -> list[ChartBar]:
    """The recorded latencies of an encoded HDR histogram, counted into bars (ms ranges).

    Bins are linear from the fastest to the slowest response, or logarithmic when the slowest
    is over twenty times the fastest (a long tail would squeeze everything into one bar). The
    bars' counts add up to the histogram's total count.
    """
    if not encoded:
        return []
    histogram = decode_histogram(encoded)
    values = [
        (item.value_iterated_to / 1000.0, item.count_added_in_this_iter_step)
        for item in histogram.get_recorded_iterator()
    ]
    if not values:
        return []
    low, high = values[0][0], values[-1][0]
    if high <= low:
        return [ChartBar(label=f"{number(low)} ms", value=sum(n for _, n in values))]
    if low > 0 and high / low > 20:
        ratio = (high / low) ** (1 / bins)
        edges = [low * ratio**i for i in range(bins + 1)]
    else:
        edges = [low + (high - low) * i / bins for i in range(bins + 1)]
    edges[-1] = high
    counts = [0] * bins
    for value, n in values:
        index = next((i for i in range(bins) if value <= edges[i + 1]), bins - 1)
        counts[index] += n
    return [
        ChartBar(label=f"{number(edges[i])}\u2013{number(edges[i + 1])} ms", value=counts[i])
        for i in range(bins)
    ]


def _series(points: list[dict[str, Any]], field: str) -> list[tuple[float, float]]:
    return [
        (float(p["second"]), float(p[field]))
        for p in points
        if p.get(field) is not None and p.get("second") is not None
    ]


def load_charts(result: dict[str, Any]) -> list[Chart]:
    """The charts of a load run, drawn from its time series, histogram and status counts."""
    charts: list[Chart] = []
    seconds = result.get("time_series") or []
    if seconds:
        charts.append(
            Chart(
                id="latency-over-time",
                title="Latency over time",
                kind="line",
                x_label="second of the run",
                y_label="ms",
                series=[
                    ChartSeries(name="p50", points=_series(seconds, "p50_ms"), tone="green"),
                    ChartSeries(name="p95", points=_series(seconds, "p95_ms"), tone="amber"),
                    ChartSeries(name="p99", points=_series(seconds, "p99_ms"), tone="red"),
                ],
                note="latency percentiles of the responses received in each second",
            )
        )
        charts.append(
            Chart(
                id="throughput",
                title="Throughput",
                kind="line",
                x_label="second of the run",
                y_label="per second",
                series=[
                    ChartSeries(name="requests/s", points=_series(seconds, "rps"), tone="blue"),
                    ChartSeries(name="errors", points=_series(seconds, "errors"), tone="red"),
                ],
                note="requests finished per second, and the failed ones among them",
            )
        )
    bins = latency_bins(result.get("histogram") or "")
    if bins:
        charts.append(
            Chart(
                id="latency-histogram",
                title="Latency histogram",
                kind="bar",
                x_label="latency",
                y_label="responses",
                bars=bins,
                note="every response's latency, from the run's HDR histogram",
            )
        )
    charts.extend(status_chart(result.get("status_counts") or {}, result.get("errors_by_kind")))
    return charts


def status_chart(statuses: dict[str, int], errors: dict[str, int] | None = None) -> list[Chart]:
    """Responses by status code, plus the requests that got no response (by error kind)."""
    bars = [
        ChartBar(label=str(status), value=n, tone=status_tone(str(status)))
        for status, n in sorted(statuses.items())
    ]
    bars += [
        ChartBar(label=kind, value=n, tone="purple")
        for kind, n in sorted((errors or {}).items())
        if kind != "bad_status" and n
    ]
    if not bars:
        return []
    return [
        Chart(
            id="status-codes",
            title="Status codes",
            kind="bar",
            x_label="status (or error without a response)",
            y_label="requests",
            bars=bars,
        )
    ]


def _threshold_checks(result: dict[str, Any]) -> list[Check]:
    checks = []
    for verdict in result.get("thresholds") or []:
        metric, limit = verdict.get("metric"), verdict.get("limit")
        comparison, actual = verdict.get("comparison", "<="), verdict.get("actual")
        name = f"threshold {metric} {comparison} {number(limit, 4)}"
        if verdict.get("passed"):
            checks.append(
                Check(name=name, outcome="passed", message=f"{metric} was {number(actual, 4)}")
            )
        elif actual is None:
            checks.append(
                Check(name=name, outcome="failed", message=f"no value of {metric} was measured")
            )
        else:
            checks.append(
                Check(
                    name=name,
                    outcome="failed",
                    message=f"{metric} was {number(actual, 4)}, limit {comparison} "
                    f"{number(limit, 4)}",
                )
            )
    return checks


def _run_checks(result: dict[str, Any]) -> list[Check]:
    status = result.get("status", "")
    elapsed = float(result.get("elapsed_s") or 0.0)
    planned = float(result.get("duration_s") or 0.0)
    if status == "completed":
        done = Check(name="run completed", outcome="passed", time_s=elapsed)
    elif status == "failed":
        done = Check(
            name="run completed",
            outcome="error",
            message=f"the run failed: {result.get('error') or 'no reason recorded'}",
            time_s=elapsed,
        )
    elif status == "stopped":
        done = Check(
            name="run completed",
            outcome="failed",
            message=f"stopped after {number(elapsed)} of {number(planned)} s",
            time_s=elapsed,
        )
    else:
        done = Check(
            name="run completed", outcome="skipped", message=f"the run is {status or 'unknown'}"
        )
    checks = [done]
    judged = {v.get("metric") for v in result.get("thresholds") or []}
    if "error_rate" not in judged and status != "running":
        failed, total = (
            int(result.get("failed_requests") or 0),
            int(result.get("total_requests") or 0),
        )
        kinds = ", ".join(f"{k} {v}" for k, v in (result.get("errors_by_kind") or {}).items())
        checks.append(
            Check(name="no request errors", outcome="passed")
            if failed == 0
            else Check(
                name="no request errors",
                outcome="failed",
                message=f"{failed} of {total} requests failed ({share(result.get('error_rate'))})"
                + (f": {kinds}" if kinds else ""),
            )
        )
    return checks


def _latency_row(
    name: str, requests: Any, errors: Any, rate: Any, lat: dict[str, Any]
) -> list[str]:
    return [
        name,
        count(requests),
        count(errors),
        share(rate),
        *(number(lat.get(f)) for f in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")),
    ]


def _tables(result: dict[str, Any]) -> list[ReportTable]:
    columns = ["operation", "requests", "errors", "error rate", "p50", "p90", "p95", "p99", "max"]
    operations = sorted(
        result.get("operations") or [],
        key=lambda op: (op.get("latency") or {}).get("p95_ms") or 0.0,
        reverse=True,
    )
    rows = [
        _latency_row(
            op.get("name", ""),
            op.get("requests"),
            op.get("errors"),
            op.get("error_rate"),
            op.get("latency") or {},
        )
        for op in operations
    ]
    rows.append(
        _latency_row(
            "all",
            result.get("total_requests"),
            result.get("failed_requests"),
            result.get("error_rate"),
            result.get("latency") or {},
        )
    )
    tables = [
        ReportTable(
            title="Slowest operations (latency in ms)",
            columns=columns,
            rows=rows,
            note="sorted by p95, slowest first",
        )
    ]
    errors = result.get("errors_by_kind") or {}
    if errors:
        tables.append(
            ReportTable(
                title="Errors by kind",
                columns=["kind", "requests"],
                rows=[[kind, count(n)] for kind, n in errors.items()],
            )
        )
    statuses = result.get("status_counts") or {}
    if statuses:
        tables.append(
            ReportTable(
                title="Status codes",
                columns=["status", "responses"],
                rows=[[status, count(n)] for status, n in statuses.items()],
                level="comprehensive",
            )
        )
    seconds = result.get("time_series") or []
    if seconds:
        tables.append(
            ReportTable(
                title="Second by second",
                columns=["second", "requests", "errors", "req/s", "p50", "p95", "p99", "max"],
                rows=[
                    [
                        str(s.get("second")),
                        count(s.get("requests")),
                        count(s.get("errors")),
                        number(s.get("rps")),
                        *(number(s.get(f)) for f in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                    ]
                    for s in seconds
                ],
                level="comprehensive",
                note="latency in ms",
            )
        )
    generator = result.get("generator")
    if generator:
        tables.append(
            ReportTable(
                title="Load generator",
                columns=["processes", "event loop", "CPU s", "CPU % of a core", "saturated"],
                rows=[
                    [
                        count(generator.get("processes")),
                        str(generator.get("event_loop", "")),
                        number(generator.get("cpu_seconds")),
                        number(generator.get("cpu_percent")),
                        "yes" if generator.get("saturated") else "no",
                    ]
                ],
                level="comprehensive",
            )
        )
    return tables


def load_report(result: dict[str, Any], run_id: str) -> RunReport:
    """A load run's section of the report."""
    lat = result.get("latency") or {}
    url = result.get("server_url", "")
    model = (
        f"open, {number(result.get('target_rps'))} req/s target"
        if result.get("model") == "open"
        else f"closed, {count(result.get('concurrent_users'))} users"
    )
    scenario = (result.get("plan") or {}).get("scenario")
    checks = _threshold_checks(result) + _run_checks(result)
    headline = (
        f"{count(result.get('total_requests'))} requests in {number(result.get('elapsed_s'))} s "
        f"({number(result.get('achieved_rps'))} req/s), error rate "
        f"{share(result.get('error_rate'))}, latency p50 {ms(lat.get('p50_ms'))}, "
        f"p95 {ms(lat.get('p95_ms'))}, p99 {ms(lat.get('p99_ms'))}"
    )
    figures = [
        Figure(label="Requests", value=count(result.get("total_requests"))),
        Figure(label="Throughput", value=f"{number(result.get('achieved_rps'))} req/s"),
        Figure(label="Error rate", value=share(result.get("error_rate"))),
        Figure(label="p50", value=ms(lat.get("p50_ms"))),
        Figure(label="p95", value=ms(lat.get("p95_ms"))),
        Figure(label="p99", value=ms(lat.get("p99_ms"))),
        Figure(label="Max", value=ms(lat.get("max_ms"))),
        Figure(label="Model", value=model),
        Figure(label="Duration", value=f"{number(result.get('elapsed_s'))} s"),
    ]
    notes = list(result.get("warnings") or [])
    if result.get("error"):
        notes.append(f"error: {result['error']}")
    return RunReport(
        kind="load",
        run_id=run_id,
        title=f"Load test of {url}" + (f" (scenario {scenario})" if scenario else ""),
        server_url=url,
        status=str(result.get("status", "")),
        started_at=result.get("started_at"),
        finished_at=result.get("finished_at"),
        duration_s=float(result.get("elapsed_s") or 0.0),
        verdict=verdict_of(checks),
        headline=headline,
        figures=figures,
        checks=checks,
        charts=load_charts(result),
        tables=_tables(result),
        notes=notes,
    )


def iteration_report(
    result: dict[str, Any], run_id: str, load: dict[str, Any] | None = None
) -> RunReport:
    """A test iteration's section; `load` is its stored load run (for the charts), if found."""
    metrics = result.get("metrics") or {}
    scenario = result.get("scenario_name", "")
    status = str(result.get("status", ""))
    checks = [
        Check(name="traffic completed", outcome="passed", time_s=result.get("duration_s") or 0.0)
        if status == "completed"
        else Check(
            name="traffic completed",
            outcome="error" if status == "failed" else "failed",
            message=f"the load run ended {status or 'without a status'}",
        )
    ]
    records = result.get("log_records") or []
    under = int(result.get("excerpt_in_scenario") or 0)
    name = f"answered under scenario {scenario}"
    if not records:
        checks.append(
            Check(name=name, outcome="skipped", message="the mock logged no request in the window")
        )
    elif under:
        checks.append(
            Check(
                name=name,
                outcome="passed",
                message=f"{under} of the {len(records)} newest logged requests",
            )
        )
    else:
        checks.append(
            Check(
                name=name,
                outcome="failed",
                message=f"none of the {len(records)} newest logged requests was answered under "
                f"scenario {scenario}",
            )
        )
    if load is not None:
        charts = load_charts(load)
    else:
        charts = status_chart(metrics.get("status_counts") or {}, metrics.get("errors_by_kind"))
    server = result.get("server_metrics") or {}
    table_rows = [
        [label, number(metrics.get(mine)), number(server.get(theirs)) if server else "-"]
        for label, mine, theirs in (
            ("requests", "requests", "requests"),
            ("req/s", "rps", "rate_per_s"),
            ("error rate", "error_rate", "error_rate"),
            ("p50 ms", "p50_ms", "p50_ms"),
            ("p95 ms", "p95_ms", "p95_ms"),
            ("p99 ms", "p99_ms", "p99_ms"),
        )
    ]
    return RunReport(
        kind="iteration",
        run_id=run_id,
        title=f"Test iteration: scenario {scenario} on {result.get('server_url', '')}",
        server_url=str(result.get("server_url", "")),
        status=status,
        started_at=result.get("started_at"),
        finished_at=result.get("finished_at"),
        duration_s=float(result.get("duration_s") or 0.0),
        verdict=verdict_of(checks),
        headline=(
            f"{count(metrics.get('requests'))} requests ({number(metrics.get('rps'))} req/s), "
            f"error rate {share(metrics.get('error_rate'))}, p95 {ms(metrics.get('p95_ms'))}; "
            f"the mock logged {count(result.get('log_total'))}"
        ),
        figures=[
            Figure(label="Scenario", value=str(scenario)),
            Figure(label="Requests", value=count(metrics.get("requests"))),
            Figure(label="Throughput", value=f"{number(metrics.get('rps'))} req/s"),
            Figure(label="Error rate", value=share(metrics.get("error_rate"))),
            Figure(label="p50", value=ms(metrics.get("p50_ms"))),
            Figure(label="p95", value=ms(metrics.get("p95_ms"))),
            Figure(label="Logged by the mock", value=count(result.get("log_total"))),
        ],
        checks=checks,
        charts=charts,
        tables=[
            ReportTable(
                title="Client and server views",
                columns=["figure", "measured by the client", "logged by the mock"],
                rows=table_rows,
            )
        ],
        notes=list(result.get("warnings") or []),
    )
