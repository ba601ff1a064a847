"""Running a load test for the client: the request mix, the run, and its records.

`run_load_test` and `run_test_iteration` both run load through `LoadTests.run`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from mockloop.errors import ConfigError, ScenarioError, ServerError
from mockloop.load.locust_engine import LocustOptions, require_locust, run_locust
from mockloop.load.mix import templates_from_endpoints, templates_from_spec
from mockloop.load.plan import LoadPlan, RequestTemplate, Target, check_allowed, parse_target
from mockloop.load.report import LoadTestResult
from mockloop.load.runner import execute_plan, probe_target
from mockloop.load.session import LoadSession, new_run_id
from mockloop.load.thresholds import check_thresholds
from mockloop.operations.services.admin import AdminApi, AdminTarget
from mockloop.operations.services.http import SharedHttp
from mockloop.operations.services.stores import ClientStores, RunRecorder
from mockloop.operations.services.work import BlockingWork
from mockloop.redaction import EncodedData
from mockloop.settings import PROBE
from mockloop.urls import normalise_url

__all__ = ["LoadEngine", "LoadTests"]

LoadEngine = Literal["native", "locust"]
_ENGINES = ("native", "locust")


class _Mix(BaseModel):
    templates: list[Any]
    source: str
    notes: list[str] = Field(default_factory=list)
    scenario: str | None = None
    admin: Any = None


class LoadTests:
    """Load tests of one client: the mix, the run (native or Locust) and its stored records.

    Args:
        admin: the admin APIs of mocks (a scenario to switch, a mock's description).
        http: the client's connection pool.
        work: the client's blocking work.
        stores: the client's stores (load runs).
        recorder: where testing runs are kept (test_runs.db).
    """

    def __init__(
        self,
        admin: AdminApi,
        http: SharedHttp,
        work: BlockingWork,
        stores: ClientStores,
        recorder: RunRecorder,
    ) -> None:
        self.admin = admin
        self.http = http
        self.work = work
        self.stores = stores
        self.recorder = recorder

    async def run(
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
        """Run a load test as `run_load_test` documents it; the run is stored and recorded."""
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
        session = LoadSession(
            plan,
            base,
            self.stores.load_runs,
            limits,
            before,
            execute=partial(run_locust, options=locust) if locust else execute_plan,
        )
        if background:
            started = await session.start_background()
            await self.record_run(started, session_id)
            return started
        finished = await session.run()
        await self.record_run(finished, session_id)
        return finished

    async def record_run(self, result: LoadTestResult, session_id: str | None) -> None:
        """Keep the run in test_runs.db (for sessions and analysis), without its histogram.

        The per-operation histograms stay (analysis merges them); they are marked
        `EncodedData` so the store's redaction passes them through byte for byte.
        """
        stored = result.model_dump(mode="json", exclude={"histogram", "time_series"})
        for op in stored.get("operations") or []:
            if isinstance(op, dict) and isinstance(op.get("histogram"), str):
                op["histogram"] = EncodedData(op["histogram"])
        await self.recorder.record(
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
            admin = await self.admin.target(url)
            stored = await self.admin.call(
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
            loaded = await self.work.load_spec(spec)
            mock = admin is not None or await self.admin.is_mock(url)
            templates, notes = await self.work.run(templates_from_spec, loaded, credentials=mock)
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
        if admin is None and await self.admin.is_mock(url):
            admin = await self.admin.target(url)
            active = await self.admin.call(admin, "GET", "/api/mock-data/scenarios/active")
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

    async def _mock_mix(
        self, admin: AdminTarget, rules: list[Any] | None
    ) -> tuple[list[RequestTemplate], list[str], str]:
        from mockloop.mock.scenarios.rules import parse_rule

        if not admin.business_url:
            raise ServerError(f"the mock at {admin.admin_url} reports no business URL")
        try:
            response = await self.http.client().get(
                f"{admin.business_url}/openapi.json", headers=PROBE
            )
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServerError(
                f"could not read the mock's description at {admin.business_url}/openapi.json "
                f"({type(exc).__name__}); give endpoints or spec instead"
            ) from None
        loaded = await self.work.load_spec(document)
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
        templates, notes = await self.work.run(
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
            return await self.admin.activate_scenario(admin, name, afresh=False)

        return switch


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
