"""Load testing operations: run a load test, aggregate runs, follow a run's progress."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from mockloop.errors import ConfigError
from mockloop.load.metrics import Aggregation, PerformanceMetricsResult, aggregate_runs
from mockloop.load.report import LoadMonitorResult, LoadTestResult
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import (
    ApiDocumentJson,
    LoadEndpointJson,
    RunResultJson,
    ThresholdsJson,
)
from mockloop.operations.services.load import LoadEngine
from mockloop.testing.sessions.progress import TestProgress

__all__ = ["LoadEngine", "LoadMonitorResult", "LoadTestOperations", "TestProgress"]


class LoadTestOperations(OperationsBase):
    """Load tests (the native engine, or Locust), their stored runs and their progress."""

    @operation(group="load", long_running=True, roles=("performance",), schedulable=True)
    async def run_load_test(
        self,
        server_url: str,
        scenario_name: str | None = None,
        duration: float = 60,
        concurrent_users: int = 10,
        target_rps: float | None = None,
        ramp_up: float = 0,
        endpoints: list[str | LoadEndpointJson] | None = None,
        spec: str | ApiDocumentJson | None = None,
        think_time: float = 0,
        timeout: float = 10,
        processes: int | None = None,
        engine: LoadEngine = "native",
        thresholds: ThresholdsJson | None = None,
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
        return await self.services.load.run(
            server_url,
            scenario_name=scenario_name,
            duration=duration,
            concurrent_users=concurrent_users,
            target_rps=target_rps,
            ramp_up=ramp_up,
            endpoints=endpoints,
            spec=spec,
            think_time=think_time,
            timeout=timeout,
            processes=processes,
            engine=engine,
            thresholds=thresholds,
            background=background,
            remote_workers=remote_workers,
            master_bind=master_bind,
            session_id=session_id,
        )

    # -- stored runs ------------------------------------------------------------------------

    @operation(group="load", read_only=True, roles=("performance",))
    async def get_performance_metrics(
        self,
        test_results: list[RunResultJson] | RunResultJson | None = None,
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
            store = self.services.stores.load_runs
            for run_id in run_ids:
                row = await asyncio.to_thread(store.get, run_id)
                if row is None:
                    raise ConfigError(
                        f"no stored load run {run_id!r}; monitor_test_progress() shows the "
                        "latest runs"
                    )
                results.append(row["result"])
        if test_results is None and not run_ids:
            rows = await asyncio.to_thread(
                self.services.stores.load_runs.list, limit=20, status="completed"
            )
            results = [row["result"] for row in rows]
            if not results:
                raise ConfigError(
                    "no completed load run is stored yet: run run_load_test first, or pass "
                    "test_results"
                )
        if not results:
            raise ConfigError("nothing to aggregate: give test_results or run_ids")
        return aggregate_runs(results, metric_types, aggregation_method)

    @operation(group="load", read_only=True, roles=("performance",))
    async def monitor_test_progress(
        self, session_id: str | None = None, run_id: str | None = None
    ) -> TestProgress:
        """Report a load run's or a test session's progress: runs, time left, requests, errors.

        A load run (started with background=True, from any process): while it goes on the
        figures are those of its last complete second; once it is done, the final result is
        included. A test session (create_test_session, schedule_test_suite): its state and
        every run in it, running and finished, each with its verdict, and the load figures
        added up. Without an id, the newest load run is reported.

        Args:
            session_id: a test session's id (create_test_session), or a load run's id (load
                runs are their own sessions).
            run_id: the run id run_load_test returned.
        """
        from mockloop.testing.sessions.progress import load_run_progress, session_progress
        from mockloop.testing.sessions.report import refresh_load_runs

        stores = self.services.stores
        load_runs = stores.load_runs
        wanted = run_id or session_id
        if not wanted:
            rows = await asyncio.to_thread(load_runs.list, limit=1)
            if not rows:
                raise ConfigError(
                    "no load run is stored yet: start one with run_load_test, or give the "
                    "session_id of a test session"
                )
            return load_run_progress(rows[0])
        row = await asyncio.to_thread(load_runs.get, wanted)
        if row is not None:
            return load_run_progress(row)
        session = await asyncio.to_thread(stores.sessions.get, wanted) if not run_id else None
        if session is None:
            raise ConfigError(
                f"no load run or test session with id {wanted!r}: run ids come from "
                "run_load_test, session ids from create_test_session (list_test_sessions() "
                "lists them)"
                if not run_id
                else f"no load run with id {wanted!r}: run ids come from run_load_test; "
                "follow a test session with session_id"
            )
        runs = await asyncio.to_thread(stores.test_runs.list, session_id=wanted, limit=10_000)
        runs = await asyncio.to_thread(refresh_load_runs, runs, load_runs.get)
        load_rows: dict[str, dict[str, Any]] = {}
        for run in runs:
            if run["kind"] == "load":
                found = await asyncio.to_thread(load_runs.get, str(run["id"]))
                if found is not None:
                    load_rows[str(run["id"])] = found
        return session_progress(session, runs, load_rows)
