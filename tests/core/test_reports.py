"""Test reports of real runs: a load run, a test plan and a security test against a petstore
mock, reported as HTML (opened in headless Chromium), Markdown, JUnit XML and JSON.

The runs happen once per module; every test reads the same results. Chart checks compare the
numbers the SVG marks carry (and the marks' geometry) with the run's own figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.load.report import LoadTestResult
from mockloop.load.store import LoadRunStore
from mockloop.mock import MockConfig, MockServer
from mockloop.reports.charts import axis_top
from mockloop.settings import using_home
from tests.conftest import FIXTURES, PETSTORE
from tests.core.security_targets import serve, vulnerable_app

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
except ImportError:  # the dev group installs it; a bare `pip install mockloop` does not
    sync_playwright = None

JUNIT_XSD = FIXTURES / "junit" / "junit.xsd"
PLAN = {
    "name": "report plan",
    "stop_on_failure": True,
    "steps": [
        {"name": "list pets", "operation": "listPets", "expect": {"status": 200}},
        {"name": "wrong status", "operation": "listPets", "expect": {"status": 201}},
        {"name": "never sent", "operation": "listPets", "expect": {"status": 200}},
    ],
}


class Runs:
    """The module's real runs, and the MOCKLOOP_HOME that stores them."""

    def __init__(self, home: Path, load: Any, plan: Any, security: Any, iteration: Any) -> None:
        self.home = home
        self.load = load
        self.plan = plan
        self.security = security
        self.iteration = iteration

    def report(self, *results: Any, **kwargs: Any) -> Any:
        """generate_test_report through the sync twin (it works beside Playwright's loop)."""
        with MockLoopClient(home=str(self.home)) as client:
            return client.generate_test_report(list(results) or None, **kwargs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    home = tmp_path_factory.mktemp("reports-home")
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)

    async def go(url: str) -> tuple[Any, ...]:
        async with AsyncMockLoopClient(home=str(home)) as client:
            load = await client.run_load_test(
                server_url=url, duration=1.5, concurrent_users=2, thresholds={"p95_ms": 0.001}
            )
            plan = await client.execute_test_plan(server_url=url, test_plan=PLAN)
            with serve(vulnerable_app()) as vulnerable:  # planted CORS, stack trace, TRACE flaws
                security = await client.run_security_test(
                    server_url=vulnerable, security_focus=["misconfiguration"], max_requests=80
                )
            iteration = await client.run_test_iteration(
                server_url=url, scenario_name="teapot", duration_seconds=1, concurrent_users=2
            )
            return load, plan, security, iteration

    with MockServer(config) as mock:
        httpx.post(
            f"{mock.admin_url}/api/mock-data/scenarios",
            json={"name": "teapot", "rules": [{"operation": "getStatus", "status": 418}]},
        ).raise_for_status()
        load, plan, security, iteration = asyncio.run(go(mock.business_url))
    yield Runs(home, load, plan, security, iteration)


# -- reading charts back out of the HTML --------------------------------------------------------


class ChartMarks(HTMLParser):
    """Every chart of a page: its attributes, its lines (data-values) and bars."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, Any]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "svg" and "data-chart" in a:
            self.charts.append({**a, "lines": {}, "bars": []})
        elif tag == "polyline" and self.charts:
            self.charts[-1]["lines"][a["data-series"]] = {
                "x": [float(v) for v in a["data-x"].split(",") if v],
                "values": [float(v) for v in a["data-values"].split(",") if v],
                "points": [tuple(map(float, p.split(","))) for p in a["points"].split()],
            }
        elif tag == "rect" and "data-value" in a and self.charts:
            self.charts[-1]["bars"].append((a["data-label"], float(a["data-value"])))


def _charts(html: str) -> ChartMarks:
    marks = ChartMarks()
    marks.feed(html)
    return marks


def _chart(marks: ChartMarks, chart_id: str, nth: int = 0) -> dict[str, Any]:
    found = [c for c in marks.charts if c["data-chart"] == chart_id]
    assert len(found) > nth, (
        f"no chart {chart_id!r} #{nth} in {[c['data-chart'] for c in marks.charts]}"
    )
    return found[nth]


def _check_load_charts(marks: ChartMarks, load: Any) -> None:
    seconds = load.time_series
    latency = _chart(marks, "latency-over-time")
    for name in ("p50", "p95", "p99"):
        expected = [
            getattr(s, f"{name}_ms") for s in seconds if getattr(s, f"{name}_ms") is not None
        ]
        line = latency["lines"][name]
        assert line["values"] == expected  # the run's own per-second percentiles
        assert len(line["points"]) == len(expected)
    # The polyline is drawn from those values: the slowest second is the highest point.
    p99 = latency["lines"]["p99"]
    ys = [y for _, y in p99["points"]]
    assert ys[p99["values"].index(max(p99["values"]))] == min(ys)
    top = float(latency["data-y-max"])
    assert top == axis_top(max(s.p99_ms or 0 for s in seconds))[0] and top >= max(p99["values"])
    throughput = _chart(marks, "throughput")
    assert throughput["lines"]["requests/s"]["values"] == [s.rps for s in seconds]
    assert throughput["lines"]["requests/s"]["x"] == [float(s.second) for s in seconds]
    assert throughput["lines"]["errors"]["values"] == [float(s.errors) for s in seconds]
    histogram = _chart(marks, "latency-histogram")
    assert sum(v for _, v in histogram["bars"]) == load.latency.count == load.responses
    statuses = _chart(marks, "status-codes")
    assert {label: int(v) for label, v in statuses["bars"]} == load.status_counts


# -- HTML in a real browser (found and launched as in test_admin_ui) -------------------------


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (it is in the dev dependency group: make setup)"
    if _chromium() is None:
        return "no chromium on PATH: install it with `apt-get install chromium`"
    return None


class Console:
    """Console errors and uncaught page errors of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"report browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def test_html_report_of_a_load_run_renders_its_numbers_in_chromium(
    runs: Runs, browser: Browser, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "load.html"
    result = runs.report(runs.load, output_format="html", output_path=str(target))
    assert result.path == str(target.resolve()) and target.read_text("utf-8") == result.content
    assert result.verdict == "failed" and result.checks["failed"] == 1
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(target.as_uri())
    page.wait_for_load_state("load")
    assert page.locator("#verdict").inner_text() == "FAILED"
    ids = page.eval_on_selector_all("svg.chart", "els => els.map(e => e.dataset.chart)")
    assert ids == ["latency-over-time", "throughput", "latency-histogram", "status-codes"]
    # Drawn, not just present: every chart has a real size and its marks have geometry.
    sizes = page.eval_on_selector_all(
        "svg.chart",
        "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
    )
    assert all(w > 300 and h > 150 for w, h in sizes)
    line_lengths = page.eval_on_selector_all(
        "svg[data-chart=latency-over-time] polyline",
        "els => els.map(e => [e.dataset.series, e.points.numberOfItems])",
    )
    p95 = [s.p95_ms for s in runs.load.time_series if s.p95_ms is not None]
    assert dict(line_lengths)["p95"] == len(p95)
    heights = page.eval_on_selector_all(
        "svg[data-chart=status-codes] rect.bar", "els => els.map(e => e.getBBox().height)"
    )
    assert heights and max(heights) > 100
    # The DOM the browser built carries the run's figures.
    _check_load_charts(_charts(page.content()), runs.load)
    failed = page.locator("tr.check[data-outcome=failed]")
    assert failed.count() == 1 and "p95_ms" in failed.inner_text()
    assert console.errors == []
    assert requests == [target.as_uri()]  # one self-contained file: nothing else fetched
    context.close()


def test_html_report_of_every_kind_shows_their_charts_and_escapes_evidence(runs: Runs) -> None:
    security = runs.security.model_dump(mode="json")
    assert len({f["severity"] for f in security["findings"]}) >= 2
    security["findings"][0]["evidence"]["response"]["body"] = "<script>alert(1)</script>"
    security["findings"][0]["title"] = "<img src=x onerror=alert(2)>"
    result = runs.report(runs.load, runs.plan, security, output_format="html")
    marks = _charts(result.content)
    assert marks.scripts == 0 and "<img src=x" not in result.content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.content
    _check_load_charts(marks, runs.load)
    steps = dict(_chart(marks, "step-outcomes")["bars"])
    plan = runs.plan
    assert (plan.passed, plan.failed, plan.skipped) == (1, 1, 1)
    assert steps == {"passed": 1, "failed": 1, "error": 0, "skipped": 1}
    severity = dict(_chart(marks, "findings-by-severity")["bars"])
    assert {k: int(v) for k, v in severity.items()} == runs.security.summary_by_severity
    assert result.run_ids == [runs.load.run_id, plan.run_id, runs.security.run_id]
    assert len(result.charts) == 6 and result.verdict == "failed"


# -- JUnit XML --------------------------------------------------------------------------------


def _validate_junit(text: str) -> None:
    try:
        import xmlschema  # pyright: ignore[reportMissingImports]
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("xmlschema is missing: it is in the dev dependency group")
        pytest.skip("xmlschema is not installed (dev dependency group): JUnit XSD not checked")
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(text)
    # The schema has teeth: a count that is not a number is refused.
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(text.replace('tests="', 'tests="x', 1))


def test_junit_counts_checks_and_a_failed_threshold_is_a_failed_test_case(runs: Runs) -> None:
    result = runs.report(runs.load, runs.plan, runs.security, output_format="junit")
    root = ET.fromstring(result.content)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("id") for s in suites] == result.run_ids
    for suite in suites:  # every count attribute is what the test cases say
        cases = suite.findall("testcase")
        assert int(suite.get("tests", -1)) == len(cases)
        assert int(suite.get("failures", -1)) == sum(
            1 for c in cases if c.find("failure") is not None
        )
        assert int(suite.get("errors", -1)) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped", -1)) == sum(
            1 for c in cases if c.find("skipped") is not None
        )
    assert int(root.get("tests", -1)) == sum(int(s.get("tests", 0)) for s in suites)
    load, plan, security = suites
    cases = {c.get("name"): c for c in load.findall("testcase")}
    threshold = cases["threshold p95_ms <= 0.001"].find("failure")
    assert threshold is not None
    assert f"p95_ms was {runs.load.latency.p95_ms:g}" in threshold.get("message", "")
    assert cases["run completed"].find("failure") is None
    assert "no request errors" in cases
    steps = {c.get("name"): c for c in plan.findall("testcase")}
    assert steps["wrong status"].find("failure").get("message") == "status: expected 201, got 200"  # type: ignore[union-attr]
    assert steps["never sent"].find("skipped") is not None
    assert len(steps["list pets"]) == 0
    probes = [c for c in security.findall("testcase") if c.find("failure") is not None]
    assert len(probes) >= 1 and "finding" in probes[0].find("failure").get("message", "")  # type: ignore[union-attr]


def test_junit_stays_well_formed_with_control_characters_in_evidence(runs: Runs) -> None:
    plan = runs.plan.model_dump(mode="json")
    failing = next(s for s in plan["steps"] if s["status"] == "failed")
    failing["reason"] = "bad \x00 byte \x1b[31m and ]]> end"
    result = runs.report(plan, output_format="junit")
    case = ET.fromstring(result.content).find(".//testcase[@name='wrong status']")
    assert case is not None and "]]> end" in case.find("failure").get("message", "")  # type: ignore[union-attr]
    assert "\x00" not in result.content and "\ufffd" in result.content


def test_junit_validates_against_the_common_junit_schema(runs: Runs) -> None:
    plan = runs.plan.model_dump(mode="json")
    next(s for s in plan["steps"] if s["status"] == "failed")["reason"] = "bad \x00 byte"
    for report in (
        runs.report(runs.load, runs.plan, runs.security, output_format="junit"),
        runs.report(plan, output_format="junit", report_format="executive"),
    ):
        _validate_junit(report.content)


# -- Markdown, JSON, formats ------------------------------------------------------------------


def test_markdown_is_a_pull_request_summary(runs: Runs) -> None:
    result = runs.report(runs.load, runs.plan, runs.security, output_format="markdown")
    text = result.content
    assert text.startswith("# ❌ MockLoop test report: 3 runs")
    assert re.search(r"\| ❌ \| threshold p95_ms &lt;= 0.001 \| p95_ms was ", text)
    assert (
        "| ✅ | list pets |" in text
        and "| ❌ | wrong status | status: expected 201, got 200 |" in text
    )
    assert "**Slowest operations (latency in ms)**" in text
    slowest = max(runs.load.operations, key=lambda op: op.latency.p95_ms or 0)
    assert f"| {slowest.name} | {slowest.requests:,} |" in text
    counts = runs.security.summary_by_severity
    for severity in ("critical", "high", "medium", "low", "info"):
        assert f"| {severity} | {counts.get(severity, 0)} |" in text
    assert "▁" in text or "█" in text  # sparklines and text bars of the charts
    bare = runs.report(runs.load, output_format="markdown", include_charts=False)
    assert "Latency over time" not in bare.content and "```text" not in bare.content


def test_report_formats_choose_what_is_shown(runs: Runs) -> None:
    full = runs.report(runs.load, runs.security, output_format="html")
    summary = runs.report(runs.load, runs.security, output_format="html", report_format="summary")
    executive = runs.report(
        runs.load, runs.security, output_format="html", report_format="executive"
    )
    bare = runs.report(runs.load, output_format="html", include_charts=False)
    assert "Second by second" in full.content and "Second by second" not in summary.content
    assert "Slowest operations" in summary.content and "<svg" in summary.content
    assert "<svg" not in executive.content and "Top issues" in executive.content
    assert "threshold p95_ms" in executive.content
    assert "<svg" not in bare.content and bare.charts == []
    data = json.loads(runs.report(runs.load, output_format="json").content)
    chart = next(c for c in data["runs"][0]["charts"] if c["id"] == "throughput")
    assert [y for _, y in chart["series"][0]["points"]] == [s.rps for s in runs.load.time_series]
    assert data["totals"] == {"passed": 2, "failed": 1, "error": 0, "skipped": 0}
    checks = {c["name"]: c["outcome"] for c in data["runs"][0]["checks"]}
    assert checks == {
        "threshold p95_ms <= 0.001": "failed",
        "run completed": "passed",
        "no request errors": "passed",
    }


def test_stored_run_ids_are_reported_with_their_histograms(runs: Runs) -> None:
    result = runs.report(
        run_ids=[runs.load.run_id, runs.plan.run_id, runs.security.run_id],
        output_format="html",
        report_format="summary",
    )
    assert result.run_ids == [runs.load.run_id, runs.plan.run_id, runs.security.run_id]
    _check_load_charts(_charts(result.content), runs.load)
    assert "report plan" in result.content and result.runs == 3


def test_an_iteration_is_charted_from_its_stored_load_run(runs: Runs) -> None:
    iteration = runs.iteration
    with using_home(runs.home):
        stored = LoadRunStore().get(iteration.load_run_id)
    assert stored is not None
    load = LoadTestResult.model_validate(stored["result"])
    result = runs.report(iteration, output_format="html")
    _check_load_charts(_charts(result.content), load)
    assert load.status_counts == {"418": load.responses}
    data = json.loads(runs.report(iteration, output_format="json").content)
    checks = {c["name"]: c["outcome"] for c in data["runs"][0]["checks"]}
    assert checks == {"traffic completed": "passed", "answered under scenario teapot": "passed"}
    assert data["runs"][0]["kind"] == "iteration" and data["verdict"] == "passed"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"run_ids": ["no-such-run"]}, "no stored run 'no-such-run'"),
        ({}, "nothing to report"),
        ({"output_format": "pdf", "run_ids": ["x"]}, "unknown output_format 'pdf'"),
        ({"report_format": "long", "run_ids": ["x"]}, "unknown report_format 'long'"),
    ],
)
def test_bad_input_is_a_config_error(runs: Runs, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        runs.report(**kwargs)


def test_not_a_result_and_a_folder_as_output_path_are_refused(runs: Runs, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a test result"):
        runs.report({"hello": 1})
    with pytest.raises(ConfigError, match="is a folder"):
        runs.report(runs.plan, output_format="markdown", output_path=str(tmp_path))


# -- the command line -------------------------------------------------------------------------


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOCKLOOP_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_writes_a_report_of_stored_runs_and_refuses_an_unknown_id(
    runs: Runs, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    done = _cli(
        runs.home, runs.load.run_id, runs.plan.run_id, "--format", "html", "-o", str(target)
    )
    assert done.returncode == 0, done.stderr
    html = target.read_text("utf-8")
    _check_load_charts(_charts(html), runs.load)
    assert "report plan" in html and "verdict failed" in done.stderr
    junit = _cli(runs.home, runs.load.run_id, "--format", "junit")
    assert junit.returncode == 0 and ET.fromstring(junit.stdout).get("failures") == "1"
    missing = _cli(runs.home, "no-such-run", "--format", "html", "-o", str(tmp_path / "x.html"))
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mockloop: error: no stored run 'no-such-run'")
    assert not (tmp_path / "x.html").exists()
