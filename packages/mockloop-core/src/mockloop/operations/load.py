"""Load testing operations: run a load test, aggregate runs, follow a run's progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from mockloop.errors import ConfigError, ScenarioError, ServerError
from mockloop.load.locust_engine import LocustOptions, require_locust, run_locust
from mockloop.load.metrics import Aggregation, PerformanceMetricsResult, aggregate_runs
from mockloop.load.mix import templates_from_endpoints, templates_from_spec
from mockloop.load.plan import LoadPlan, RequestTemplate, Target, check_allowed, parse_target
from mockloop.load.report import LoadProgress, LoadTestResult
from mockloop.load.runner import execute_plan, probe_target
from mockloop.load.session import LoadSession, new_run_id, pid_alive
from mockloop.load.store import LoadRunStore
from mockloop.load.thresholds import check_thresholds
from mockloop.operation import operation
from mockloop.operations.base import AdminTarget, OperationsBase, normalise_url
from mockloop.redaction import EncodedData
from mockloop.results import Result
from mockloop.settings import PROBE, using_home

__all__ = ["LoadMonitorResult", "LoadTestOperations"]

LoadEngine = Literal["native", "locust"]
_ENGINES = ("native", "locust")


class LoadMonitorResult(Result):
    """A load run's progress: live while it runs, final once done."""

    run_id: str
    status: str = Field(
        description="running, completed, stopped, failed, or interrupted (its process is gone)"
    )
    server_url: str
    started_at: float
    updated_at: float
    elapsed_s: float
    remaining_s: float
    requests: int
    errors: int
    current_rps: float
    error_rate: float
    p95_ms: float | None = None
    message: str
    result: LoadTestResult | None = Field(default=None, description="the final result, once done")


class _Mix(BaseModel):
    templates: list[Any]
    source: str
    notes: list[str] = Field(default_factory=list)
    scenario: str | None = None
    admin: Any = None


class LoadTestOperations(OperationsBase):
    """Load tests (the native engine, or Locust), their stored runs and their progress."""

    def _runs(self) -> LoadRunStore:
        with using_home(self.settings.home):
            return LoadRunStore()

    @operation(group="load", long_running=True)
    async def run_load_test(
        self,
        server_url: str,
        scenario_name: str | None = None,
        duration: float = 60,
        concurrent_users: int = 10,
        target_rps: float | None = None,
        ramp_up: float = 0,
        endpoints: list[str | dict[str, Any]] | None = None,
        spec: str | dict[str, Any] | None = None,
        think_time: float = 0,
        timeout: float = 10,
        processes: int | None = None,
        engine: LoadEngine = "native",
        thresholds: dict[str, float] | None = None,
        background: bool = False,
        remote_workers: int = 0,
        master_bind: str | None = None,
        session_id: str | None = None,
    ) -> LoadTestResult:
        """Send real load to an HTTP API and measure it: throughput, latency percentiles, errors.

        Closed model by default (concurrent_users each send a request, wait for the answer,
        think, repeat); with target_rps the open model (requests arrive at that rate whatever
        the server does, latency counted from each request's scheduled time, so a stalled
        server shows in the tail). The request mix is, in this order: `endpoints`; the GET
        operations of `spec` with generated parameters; the operations the scenario's rules
        select (a MockLoop mock); the GET operations of a MockLoop mock's description; else
        GET of the URL itself. Latencies come from HDR histograms (min, mean, p50, p90, p95,
        p99, p99.9, max), overall and per operation, with status counts, errors by kind, a
        per-second time series and the generator's own CPU use. Load goes only to loopback
        hosts unless MOCKLOOP_ALLOWED_HOSTS lists the host. Each run is stored for
        get_performance_metrics and monitor_test_progress.

        Args:
            server_url: the API to load, e.g. http://127.0.0.1:8000 (paths are relative to it).
            scenario_name: a scenario of the MockLoop mock at server_url to activate for the
                run (the previously active one comes back after); its operations form the mix
                when no endpoints or spec are given.
            duration: seconds of load, above 0.
            concurrent_users: closed model: users (one keep-alive connection each); open
                model: the most connections to open.
            target_rps: requests per second to send (open model); None: closed model.
            ramp_up: seconds over which users start (closed) or the rate climbs to target_rps
                (open).
            endpoints: the mix: "GET /pets?limit=5" strings or {"path", "method", "weight",
                "headers", "body", "name"} objects.
            spec: an OpenAPI description (path, URL or dict) whose GET operations form the
                mix, parameters generated from their schemas.
            think_time: seconds each user waits between an answer and its next request
                (closed model).
            timeout: seconds a request may take before it counts as a timeout error.
            processes: worker processes generating load on this machine (default 1; with
                engine="locust" its local workers, default 2, 0 with remote_workers only).
            engine: "native" (this engine) or "locust": the same plan as a locustfile run by
                Locust's master and workers (pip install 'mockloop[locust]'), its statistics
                read back into the same result.
            thresholds: pass/fail limits, e.g. {"p95_ms": 200, "error_rate": 0.01,
                "min_rps": 100}; the result says which passed.
            background: return at once with the run id (status "running"); follow it with
                monitor_test_progress.
            remote_workers: engine="locust": workers on other machines to wait for before
                the load starts (each runs `locust -f - --worker --master-host THIS_HOST
                --master-port PORT`); needs master_bind.
            master_bind: engine="locust": HOST:PORT the Locust master listens on for workers,
                e.g. 0.0.0.0:5557 (default: a free loopback port, local workers only).
            session_id: the test session the run lands in (default: the session this client
                opened with create_test_session, if any).
        """
        if engine not in _ENGINES:
            raise ConfigError(f"unknown engine {engine!r}; use 'native' or 'locust'")
        locust: LocustOptions | None = None
        if engine == "locust":
            require_locust()
            locust = _locust_options(processes, remote_workers, master_bind)
        elif remote_workers or master_bind is not None:
            raise ConfigError("remote_workers and master_bind apply to engine='locust' only")
        url = normalise_url(server_url)
        target = parse_target(url)
        check_allowed(target)
        limits = check_thresholds(thresholds)
        if spec is not None and endpoints is not None:
            raise ConfigError("give endpoints or spec, not both: either one is the request mix")
        plan = LoadPlan(
            target=target,
            templates=[],
            duration=duration,
            users=concurrent_users,
            rate=target_rps,
            ramp_up=ramp_up,
            think_time=think_time,
            timeout=timeout,
            processes=locust.workers if locust else 1 if processes is None else processes,
        )
        plan.check(mix=False)
        mix = await self._load_mix(url, target, scenario_name, endpoints, spec)
        plan.templates = mix.templates
        plan.mix_source = mix.source
        plan.check()
        await probe_target(target, timeout)
        base = LoadTestResult(
            run_id=new_run_id(),
            status="running",
            server_url=url,
            model=plan.model,
            started_at=time.time(),
            duration_s=plan.duration,
            concurrent_users=plan.users,
            target_rps=plan.rate,
            processes=plan.processes,
            plan={**plan.describe(), "thresholds": limits, "scenario": mix.scenario},
            engine=engine,
            warnings=mix.notes,
        )
        before = None
        if mix.scenario is not None:
            before = self._scenario_switch(mix.admin, mix.scenario)
        with using_home(self.settings.home):
            session = LoadSession(
                plan,
                base,
                LoadRunStore(),
                limits,
                before,
                execute=partial(run_locust, options=locust) if locust else execute_plan,
            )
        if background:
            started = await session.start_background()
            await self._record_load_run(started, session_id)
            return started
        finished = await session.run()
        await self._record_load_run(finished, session_id)
        return finished

    async def _record_load_run(self, result: LoadTestResult, session_id: str | None) -> None:
        """Keep the run in test_runs.db (for sessions and analysis), without its histogram.

        The per-operation histograms stay (analysis merges them); they are marked
        `EncodedData` so the store's redaction passes them through byte for byte.
        """
        stored = result.model_dump(mode="json", exclude={"histogram", "time_series"})
        for op in stored.get("operations") or []:
            if isinstance(op, dict) and isinstance(op.get("histogram"), str):
                op["histogram"] = EncodedData(op["histogram"])
        await self._record_run(
            run_id=result.run_id,
            kind="load",
            status=result.status,
            server_url=result.server_url,
            started_at=result.started_at,
            finished_at=result.finished_at,
            summary={
                "requests": result.total_requests,
                "achieved_rps": round(result.achieved_rps, 2),
                "error_rate": result.error_rate,
                "p50_ms": result.latency.p50_ms,
                "p95_ms": result.latency.p95_ms,
                "p99_ms": result.latency.p99_ms,
                "passed": result.passed,
                "scenario": result.plan.get("scenario"),
            },
            result=stored,
            session_id=session_id,
        )

    # -- the request mix --------------------------------------------------------------------

    async def _load_mix(
        self,
        url: str,
        target: Target,
        scenario_name: str | None,
        endpoints: list[Any] | None,
        spec: str | dict[str, Any] | None,
    ) -> _Mix:
        admin: AdminTarget | None = None
        rules: list[Any] | None = None
        if scenario_name is not None:
            admin = await self._admin_target(url)
            stored = await self._admin_call(
                admin, "GET", f"/api/mock-data/scenarios/{quote(scenario_name, safe='')}"
            )
            if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict | None):
                raise ScenarioError(
                    f"the mock at {admin.admin_url} has no scenario named {scenario_name!r}; "
                    "list them with manage_mock_data(operation='list_scenarios')"
                )
            rules = list((stored.get("config") or {}).get("rules") or [])
        if endpoints is not None:
            return _Mix(
                templates=templates_from_endpoints(endpoints),
                source="endpoints",
                scenario=scenario_name,
                admin=admin,
            )
        if spec is not None:
            loaded = await self._load_spec(spec)
            mock = admin is not None or await self._is_mock(url)
            templates, notes = await self._in_thread(templates_from_spec, loaded, credentials=mock)
            if not templates:
                raise ConfigError(
                    f"{loaded.source}: the description has no GET operation to load; give "
                    "endpoints instead"
                )
            return _Mix(
                templates=templates,
                source="spec",
                notes=notes,
                scenario=scenario_name,
                admin=admin,
            )
        if admin is None and await self._is_mock(url):
            admin = await self._admin_target(url)
            active = await self._admin_call(admin, "GET", "/api/mock-data/scenarios/active")
            if active.get("scenario"):
                rules = list((active["scenario"].get("config") or {}).get("rules") or [])
        if admin is not None:
            templates, notes, source = await self._mock_mix(admin, rules)
            return _Mix(
                templates=templates,
                source=source,
                notes=notes,
                scenario=scenario_name,
                admin=admin,
            )
        return _Mix(
            templates=[
                RequestTemplate(
                    name=f"GET {target.base_path or '/'}",
                    method="GET",
                    targets=[""] if target.base_path else ["/"],
                    path_template=target.base_path or "/",
                )
            ],
            source="url",
        )

    async def _is_mock(self, url: str) -> bool:
        async with self._http(timeout=min(self.settings.timeout, 5.0)) as http:
            try:
                response = await http.get(f"{url}/health", headers=PROBE)
                body = response.json()
            except (httpx.HTTPError, ValueError):
                return False
        return isinstance(body, dict) and body.get("service") in ("mockloop", "mockloop-admin")

    async def _mock_mix(
        self, admin: AdminTarget, rules: list[Any] | None
    ) -> tuple[list[RequestTemplate], list[str], str]:
        from mockloop.mock.scenarios import parse_rule

        if not admin.business_url:
            raise ServerError(f"the mock at {admin.admin_url} reports no business URL")
        async with self._http() as http:
            try:
                response = await http.get(f"{admin.business_url}/openapi.json", headers=PROBE)
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ServerError(
                    f"could not read the mock's description at {admin.business_url}/openapi.json "
                    f"({type(exc).__name__}); give endpoints or spec instead"
                ) from None
        loaded = await self._load_spec(document)
        selected: set[str] | None = None
        source = "mock description"
        if rules:
            parsed = [parse_rule(rule) for rule in rules]
            if all(rule.operation or rule.path or rule.method for rule in parsed):
                selected = {
                    op.operation_id
                    for op in loaded.operations
                    if any(rule.selects(op) for rule in parsed)
                }
                source = "scenario"
        templates, notes = await self._in_thread(
            templates_from_spec, loaded, operation_ids=selected, credentials=True
        )
        if not templates:
            raise ScenarioError(
                "the scenario selects no operation that can be loaded; give endpoints instead"
            )
        return templates, notes, source

    def _scenario_switch(
        self, admin: AdminTarget, name: str
    ) -> Callable[[], Awaitable[Callable[[], Awaitable[None]] | None]]:
        async def switch() -> Callable[[], Awaitable[None]] | None:
            return await self._activate_scenario(admin, name, afresh=False)

        return switch

    # -- stored runs ------------------------------------------------------------------------

    @operation(group="load", read_only=True)
    async def get_performance_metrics(
        self,
        test_results: list[dict[str, Any]] | dict[str, Any] | None = None,
        run_ids: list[str] | None = None,
        metric_types: list[str] | None = None,
        aggregation_method: Aggregation = "average",
    ) -> PerformanceMetricsResult:
        """Aggregate load test results across runs: per metric and per operation.

        Aggregates each run's figures (requests, achieved rate, error rate, latency
        percentiles, generator CPU) by the chosen method, per operation too, and gives the
        exact latency percentiles of all the runs' requests together (from their HDR
        histograms). Without test_results or run_ids it takes the stored completed runs,
        newest first (up to 20).

        Args:
            test_results: results returned by run_load_test (one or a list).
            run_ids: ids of stored runs to aggregate.
            metric_types: metrics to report: total_requests, failed_requests, achieved_rps,
                error_rate, min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms,
                cpu_percent; default all.
            aggregation_method: average, median, p95, max, min or sum over the runs.
        """
        results: list[dict[str, Any]] = []
        if test_results is not None:
            given = test_results if isinstance(test_results, list) else [test_results]
            for item in given:
                results.append(
                    item.model_dump(mode="json") if isinstance(item, BaseModel) else item
                )
        if run_ids:
            store = self._runs()
            for run_id in run_ids:
                row = await asyncio.to_thread(store.get, run_id)
                if row is None:
                    raise ConfigError(
                        f"no stored load run {run_id!r}; monitor_test_progress() shows the "
                        "latest runs"
                    )
                results.append(row["result"])
        if test_results is None and not run_ids:
            rows = await asyncio.to_thread(self._runs().list, limit=20, status="completed")
            results = [row["result"] for row in rows]
            if not results:
                raise ConfigError(
                    "no completed load run is stored yet: run run_load_test first, or pass "
                    "test_results"
                )
        if not results:
            raise ConfigError("nothing to aggregate: give test_results or run_ids")
        return aggregate_runs(results, metric_types, aggregation_method)

    @operation(group="load", read_only=True)
    async def monitor_test_progress(
        self, session_id: str | None = None, run_id: str | None = None
    ) -> LoadMonitorResult:
        """Report a load run's progress: elapsed and remaining time, requests, rate, errors, p95.

        While the run goes on (started with background=True, from any process) the figures
        are those of its last complete second; once it is done, the final result is included.
        Without an id, the newest run is reported.

        Args:
            session_id: the id of the run to follow (load runs are their own sessions).
            run_id: the run id run_load_test returned (same as session_id; either one).
        """
        wanted = run_id or session_id
        store = self._runs()
        if wanted:
            row = await asyncio.to_thread(store.get, wanted)
            if row is None:
                raise ConfigError(f"no load run with id {wanted!r}")
        else:
            rows = await asyncio.to_thread(store.list, limit=1)
            if not rows:
                raise ConfigError("no load run is stored yet: start one with run_load_test")
            row = rows[0]
        return _monitor(row)


def _locust_options(
    processes: int | None, remote_workers: int, master_bind: str | None
) -> LocustOptions:
    local = 2 if processes is None else processes
    if local < 0 or remote_workers < 0:
        raise ConfigError("processes and remote_workers must be 0 or more")
    if local + remote_workers == 0:
        raise ConfigError(
            "engine='locust' needs at least one worker: processes=N local workers and/or "
            "remote_workers=N on other machines"
        )
    if remote_workers and master_bind is None:
        raise ConfigError(
            "remote_workers need an address to connect to: give master_bind, e.g. "
            "'0.0.0.0:5557', and start each worker with `locust -f - --worker "
            "--master-host THIS_HOST --master-port 5557`"
        )
    options = LocustOptions(
        local_workers=local,
        remote_workers=remote_workers,
        master_bind=master_bind,
        wait_for_workers=300 if remote_workers else 60,
    )
    options.bind()  # a malformed address is an error before any load
    return options


def _monitor(row: dict[str, Any]) -> LoadMonitorResult:
    result = LoadTestResult.model_validate(row["result"])
    status = row["status"]
    progress = LoadProgress.model_validate(row["progress"]) if row["progress"] else None
    if status == "running" and not pid_alive(row["pid"]):
        status = "interrupted"
    if status in ("completed", "stopped"):
        elapsed = result.elapsed_s
        figures = {
            "requests": result.total_requests,
            "errors": result.failed_requests,
            "current_rps": result.achieved_rps,
            "error_rate": result.error_rate,
            "p95_ms": result.latency.p95_ms,
        }
        message = result.summary()
    else:
        elapsed = progress.elapsed_s if progress else 0.0
        if status == "running":
            elapsed = max(elapsed, min(time.time() - result.started_at, result.duration_s))
        figures = {
            "requests": progress.requests if progress else 0,
            "errors": progress.errors if progress else 0,
            "current_rps": progress.current_rps if progress else 0.0,
            "error_rate": progress.error_rate if progress else 0.0,
            "p95_ms": progress.p95_ms if progress else None,
        }
        message = {
            "running": f"running: {elapsed:.0f} of {result.duration_s:.0f} s",
            "failed": f"failed: {result.error}",
            "interrupted": "interrupted: the process running it is gone",
        }.get(status, status)
    return LoadMonitorResult(
        run_id=row["id"],
        status=status,
        server_url=row["server_url"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        elapsed_s=round(elapsed, 2),
        remaining_s=round(max(0.0, result.duration_s - elapsed), 2) if status == "running" else 0.0,
        message=message,
        result=result if status in ("completed", "stopped") else None,
        **figures,
    )
