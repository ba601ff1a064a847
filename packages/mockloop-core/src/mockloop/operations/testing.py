"""Test plans (given or generated from a description) and test iterations against real servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from mockloop.errors import ConfigError, ServerError
from mockloop.operation import operation
from mockloop.operations.base import AdminTarget, OperationsBase, normalise_url
from mockloop.operations.parameters.typed import ApiDocumentJson, LoadEndpointJson, TestPlanJson
from mockloop.operations.services.admin import PROBE_TIMEOUT
from mockloop.progress import report_progress
from mockloop.settings import PROBE
from mockloop.spec.model import ApiSpec
from mockloop.testing.iterations import TestIterationResult
from mockloop.testing.plans.credentials import add_mock_credentials
from mockloop.testing.plans.generate import TargetTraits, TestFocus, generate_plan
from mockloop.testing.plans.library import list_plans, read_plan, save_plan
from mockloop.testing.plans.model import StepOutcome, TestPlan, TestPlanResult, parse_plan
from mockloop.testing.plans.monitor import PlanMonitor
from mockloop.testing.plans.results import SavedTestPlan, TestPlanList
from mockloop.testing.plans.runner import PlanRunner, prepare_steps

__all__ = [
    "SavedTestPlan",
    "TestIterationResult",
    "TestPlanList",
    "TestPlanOperations",
]

_LOG_EXCERPT = 20
_RECORD_FIELDS = ("ts", "method", "path", "status", "latency_ms", "operation_id", "scenario")


@dataclass(slots=True)
class _Target:
    """The server a plan runs against, as far as MockLoop can tell."""

    url: str
    root: str = ""  # where the mock serves /health and /openapi.json
    is_mock: bool = False
    admin_url: str | None = None
    validation: str | None = None
    auth: bool | None = None
    note: str | None = None


class TestPlanOperations(OperationsBase):
    """Test plans (given or generated from a description) and test iterations."""

    @operation(group="testing", long_running=True, roles=("api_testing",), schedulable=True)
    async def execute_test_plan(
        self,
        server_url: str,
        test_plan: str | TestPlanJson | None = None,
        openapi_spec: str | ApiDocumentJson | None = None,
        test_focus: TestFocus = "comprehensive",
        context_id: str | None = None,
        operations: list[str] | None = None,
        headers: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None,
        server_validates: bool | None = None,
        timeout: float | None = None,
        seed: int = 0,
        session_id: str | None = None,
        ai_monitoring: bool = False,
    ) -> TestPlanResult:
        """Run a functional test plan against an HTTP API: each step's outcome with evidence.

        The plan is given (an object, a plan name from MOCKLOOP_HOME/plans, or a .yaml/.json
        file path) or generated from the description: every operation's happy path (valid
        generated input, a documented 2xx status, a body that conforms to the schema) plus
        negative cases that must be refused with a 4xx. The description is openapi_spec, else
        the one a MockLoop mock at server_url serves. Steps check status, schema
        conformance, headers, JSONPath assertions and latency, and capture values for later
        steps (${name}). Each step is passed, failed, skipped (a dependency did not pass) or
        error (no response), with the request sent, a response excerpt and every assertion's
        expected and actual value. The plan format is test_plan's schema (name, variables,
        headers, steps with request, expect and capture). Any host may be tested.

        Args:
            server_url: the API to test, e.g. http://127.0.0.1:8000; step paths are relative
                to it (include a base path such as /v1 here for a live API).
            test_plan: a plan object ({"name", "steps": [...]}), the name of a saved plan,
                or a .yaml/.json plan file path; None generates one from the description.
            openapi_spec: the description (path, URL or dict) steps are resolved and
                responses checked against; default: the one a MockLoop mock serves.
            test_focus: for a generated plan: happy_path, negative or comprehensive (both).
            context_id: a workflow or session context this run belongs to (recorded).
            operations: for a generated plan: only these operationIds or "METHOD /path".
            headers: headers sent with every step (e.g. real credentials); they replace
                generated placeholder credentials.
            variables: values for ${name} references, beside the plan's own variables.
            server_validates: for a generated plan: whether the server refuses invalid
                requests with 4xx (negative steps need it); None: a MockLoop mock's own
                setting, else assumed.
            timeout: seconds per request (default: the plan's timeout_s, 10).
            seed: seed of the generated input values (same seed, same plan).
            session_id: the test session the run lands in (default: the open one).
            ai_monitoring: watch the steps as they run and report those that depart from
                the run so far (3x the median latency and 50 ms over it, a 5xx or no
                response, a status class not seen before on a failing step): each as a
                progress message when it happens, all in the result's `monitoring` section.
        """
        started = time.time()
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"timeout={timeout!r} must be above 0 seconds")
        url = normalise_url(server_url)
        plan, source = await self._plan_input(test_plan)
        target = await self._plan_target(url)
        spec, description_source = await self._plan_description(target, openapi_spec)
        notes = [target.note] if target.note else []
        if plan is None:
            if spec is None:
                raise ConfigError(
                    "test_plan is None and no description is available to generate one from: "
                    f"{url} is not a MockLoop mock (or does not answer); give openapi_spec= or "
                    "a test_plan"
                )
            traits = TargetTraits(
                validates=server_validates
                if server_validates is not None
                else target.validation in (None, "enforce"),
                enforces_auth=target.auth if target.auth is not None else True,
                provided_headers={name.lower() for name in headers or {}},
            )
            plan, generated_notes = await self._in_thread(
                generate_plan,
                spec,
                focus=test_focus,
                traits=traits,
                operations=operations,
                seed=seed,
            )
            notes.extend(generated_notes)
            source = f"generated ({test_focus})"
        elif operations:
            raise ConfigError("operations= selects what a generated plan covers; give no test_plan")
        prepared = prepare_steps(plan, spec, set(variables or {}))
        if spec is not None and target.is_mock and target.auth is not False:
            # Saved and hand-written plans get the mock's credentials as generated ones do.
            given = add_mock_credentials(
                prepared, spec, plan_headers=plan.headers, caller_headers=headers
            )
            if given:
                notes.append(
                    f"{len(given)} step(s) call operations that need credentials and carried "
                    f"none, so they sent placeholder ones ({', '.join(given[:5])}"
                    + (", ..." if len(given) > 5 else "")
                    + "); a MockLoop mock checks only their form"
                )

        monitor = PlanMonitor() if ai_monitoring else None

        async def progress(done: int, total: int, outcome: StepOutcome) -> None:
            await report_progress(done, total, f"{outcome.name}: {outcome.status}")
            for anomaly in monitor.observe(outcome) if monitor is not None else []:
                await report_progress(done, total, f"anomaly: {anomaly.step}: {anomaly.detail}")

        runner = PlanRunner(
            plan,
            prepared,
            target.url,
            spec=spec,
            headers=headers,
            variables=variables,
            timeout=timeout,
            on_step=progress,
        )
        restore = await self._activate_plan_scenario(target, plan.scenario)
        try:
            outcomes = await runner.run()
        finally:
            if restore is not None:
                await restore()
        finished = time.time()
        result = _plan_result(
            plan, source, target.url, outcomes, started, finished, description_source, notes
        )
        result.context_id = context_id
        result.session_id = session_id or self.current_session_id
        if monitor is not None:
            result.monitoring = monitor.section()
            result.notes.append(f"monitoring: {result.monitoring.summary_text}")
        await self.services.runs.record(
            run_id=result.run_id,
            kind="test_plan",
            status=result.status,
            server_url=result.server_url,
            started_at=started,
            finished_at=finished,
            summary={
                "plan": result.plan_name,
                "total": result.total,
                "passed": result.passed,
                "failed": result.failed,
                "errors": result.errors,
                "skipped": result.skipped,
                "pass_rate": result.pass_rate,
            },
            result=result.model_dump(mode="json"),
            session_id=session_id,
            context_id=context_id,
        )
        return result

    async def _activate_plan_scenario(
        self, target: _Target, name: str | None
    ) -> Callable[[], Awaitable[None]] | None:
        """Activate the plan's scenario afresh; return how to bring back the one before."""
        if name is None:
            return None
        if not target.is_mock or not target.admin_url:
            raise ConfigError(
                f"test_plan.scenario={name!r}: {target.url} is not a MockLoop mock with an admin "
                "port, so no scenario can be activated; run the plan against the mock, or "
                "remove 'scenario' from the plan"
            )
        admin = AdminTarget(target.admin_url.rstrip("/"), target.url, {})
        return await self.services.admin.activate_scenario(admin, name, afresh=True)

    async def _plan_input(self, test_plan: Any) -> tuple[TestPlan | None, str]:
        if test_plan is None:
            return None, "generated"
        if isinstance(test_plan, str):
            try:
                return await self._in_thread(read_plan, test_plan)
            except OSError as exc:  # a name too long for a path, a folder without access...
                raise ConfigError(
                    f"test_plan {test_plan[:120]!r} is no plan name or readable file "
                    f"({exc.strerror or exc}); give a plan object, a plan name or a file path"
                ) from None
        if isinstance(test_plan, dict | BaseModel):
            return parse_plan(test_plan), "given"
        raise ConfigError(
            "test_plan must be a plan object, a plan name or a file path, got "
            f"{type(test_plan).__name__}"
        )

    async def _plan_target(self, url: str) -> _Target:
        """Whether `url` is a MockLoop mock (then: its business URL and request checks).

        A URL with a base path (http://host:8000/v1) is a mock when its origin is one.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        http = self.services.http.client()
        timeout = min(self.settings.timeout, PROBE_TIMEOUT)
        for root in dict.fromkeys([url, origin]):
            health = await _json(http, f"{root}/health", timeout)
            service = health.get("service") if isinstance(health, dict) else None
            if service == "mockloop-admin" and root == url and isinstance(health, dict):
                business = health.get("business_url")
                if not business:
                    raise ServerError(f"the mock admin API at {url} reports no business URL")
                business = str(business).rstrip("/")
                return _traits(
                    _Target(
                        business,
                        root=business,
                        is_mock=True,
                        admin_url=url,
                        note=f"{url} is the mock's admin API: the plan ran against its "
                        f"business port {business}",
                    ),
                    health,
                )
            if service == "mockloop" and isinstance(health, dict):
                admin = health.get("admin_url")
                target = _Target(url, root=root, is_mock=True, admin_url=admin)
                admin_health = await _json(http, f"{admin}/health", timeout) if admin else None
                return _traits(target, admin_health)
        return _Target(url, root=url)

    async def _plan_description(
        self, target: _Target, openapi_spec: str | dict[str, Any] | None
    ) -> tuple[ApiSpec | None, str | None]:
        if openapi_spec is not None:
            spec = await self._load_spec(openapi_spec)
            return spec, spec.source
        if not target.is_mock:
            return None, None
        try:
            response = await self.services.http.client().get(
                f"{target.root}/openapi.json", headers=PROBE
            )
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServerError(
                f"could not read the mock's description at {target.root}/openapi.json "
                f"({type(exc).__name__}); give openapi_spec= instead"
            ) from None
        spec = await self._load_spec(document)
        return spec, f"{target.root}/openapi.json"

    @operation(group="testing")
    async def save_test_plan(
        self, name: str, test_plan: str | TestPlanJson, overwrite: bool = True
    ) -> SavedTestPlan:
        """Store a test plan under a name, for execute_test_plan(test_plan=NAME) later.

        The plan is validated first (a bad field is an error naming it) and written as
        MOCKLOOP_HOME/plans/NAME.yaml.

        Args:
            name: the plan's name: letters, digits, '_', '-', '.'.
            test_plan: the plan object, or a .yaml/.json plan file path to copy.
            overwrite: replace a plan of that name (False: error if one exists).
        """
        plan, _ = await self._plan_input(test_plan)
        assert plan is not None
        path, replaced = await self._in_thread(save_plan, name, plan, overwrite=overwrite)
        return SavedTestPlan(name=name, path=str(path), steps=len(plan.steps), replaced=replaced)

    @operation(group="testing", read_only=True)
    async def list_test_plans(self) -> TestPlanList:
        """List the named test plans stored in MOCKLOOP_HOME/plans, with their step counts."""
        from mockloop.testing.plans.library import plans_dir

        plans = await self._in_thread(list_plans)
        folder = await self._in_thread(plans_dir)
        return TestPlanList(folder=str(folder), plans=plans)

    @operation(group="testing", long_running=True, schedulable=True)
    async def run_test_iteration(
        self,
        server_url: str,
        scenario_name: str,
        duration_seconds: float = 10,
        concurrent_users: int = 4,
        target_rps: float | None = None,
        endpoints: list[str | LoadEndpointJson] | None = None,
        context_id: str | None = None,
        session_id: str | None = None,
    ) -> TestIterationResult:
        """Run one test iteration: switch a mock to a scenario, drive real traffic, measure it.

        Activates the scenario on the MockLoop mock at server_url, sends real requests for
        duration_seconds with the load engine (the scenario's operations, or endpoints), puts
        the previously active scenario back, then reads the mock's request log for the
        iteration's time window. Returns the client-side metrics (requests, rate, error rate,
        latency percentiles, status counts), the mock's own view of the window, the newest
        log records and the log analysis.

        Args:
            server_url: the mock's business or admin URL, e.g. http://127.0.0.1:8000.
            scenario_name: a scenario stored on the mock (see manage_mock_data).
            duration_seconds: seconds of traffic, above 0.
            concurrent_users: users sending requests concurrently (closed model).
            target_rps: requests per second instead (open model); None: closed model.
            endpoints: the request mix ("GET /pets" strings or objects); default: the
                scenario's operations.
            context_id: a workflow or session context this iteration belongs to (recorded).
            session_id: the test session the run lands in (default: the open one).
        """
        if duration_seconds <= 0:
            raise ConfigError(f"duration_seconds={duration_seconds!r} must be above 0")
        if not scenario_name.strip():
            raise ConfigError(
                "scenario_name is empty: give a scenario stored on the mock "
                "(manage_mock_data with operation='list_scenarios' lists them)"
            )
        url = normalise_url(server_url)
        admin = await self.services.admin.target(url)
        business = admin.business_url or url
        started = time.time()
        load = await self.services.load.run(
            business,
            scenario_name=scenario_name,
            duration=duration_seconds,
            concurrent_users=concurrent_users,
            target_rps=target_rps,
            endpoints=endpoints,
            session_id=session_id,
        )
        finished = time.time()
        logs = await self.services.logs.query(
            admin.admin_url, limit=_LOG_EXCERPT, time_from=started, time_to=finished, analyze=True
        )
        analysis = logs.analysis or {}
        in_scenario = sum(1 for record in logs.records if record.get("scenario") == scenario_name)
        result = TestIterationResult(
            run_id=f"iteration-{uuid.uuid4().hex[:12]}",
            server_url=business,
            scenario_name=scenario_name,
            status=load.status,
            started_at=started,
            finished_at=finished,
            duration_s=round(finished - started, 3),
            load_run_id=load.run_id,
            metrics={
                "requests": load.total_requests,
                "responses": load.responses,
                "failed_requests": load.failed_requests,
                "rps": round(load.achieved_rps, 2),
                "error_rate": load.error_rate,
                "mean_ms": load.latency.mean_ms,
                "p50_ms": load.latency.p50_ms,
                "p90_ms": load.latency.p90_ms,
                "p95_ms": load.latency.p95_ms,
                "p99_ms": load.latency.p99_ms,
                "max_ms": load.latency.max_ms,
                "status_counts": load.status_counts,
                "errors_by_kind": load.errors_by_kind,
            },
            server_metrics=_server_metrics(analysis) if analysis else None,
            excerpt_in_scenario=in_scenario,
            log_total=logs.total,
            log_records=[{k: r.get(k) for k in _RECORD_FIELDS} for r in logs.records],
            analysis=logs.analysis,
            warnings=list(load.warnings)
            + (["the load run failed: " + load.error] if load.error else []),
            session_id=session_id or self.current_session_id,
            context_id=context_id,
        )
        await self.services.runs.record(
            run_id=result.run_id,
            kind="iteration",
            status=result.status,
            server_url=business,
            started_at=started,
            finished_at=finished,
            summary={
                "scenario": scenario_name,
                "load_run_id": load.run_id,
                "requests": load.total_requests,
                "achieved_rps": round(load.achieved_rps, 2),
                "error_rate": load.error_rate,
                "p50_ms": load.latency.p50_ms,
                "p95_ms": load.latency.p95_ms,
                "logged": logs.total,
            },
            result=result.model_dump(mode="json"),
            session_id=session_id,
            context_id=context_id,
        )
        return result


async def _json(http: httpx.AsyncClient, url: str, timeout: float) -> Any:
    """The JSON answer of a GET (MockLoop's probe header set), or None."""
    try:
        return (await http.get(url, headers=PROBE, timeout=timeout)).json()
    except (httpx.HTTPError, ValueError):
        return None


def _traits(target: _Target, admin_health: Any) -> _Target:
    """`target` with the request checks its mock's admin /health reports."""
    if isinstance(admin_health, dict):
        validation = admin_health.get("validation")
        target.validation = validation if isinstance(validation, str) else None
        auth = admin_health.get("auth")
        target.auth = auth if isinstance(auth, bool) else None
    return target


def _server_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    latency = summary.get("latency") or {}
    return {
        "requests": summary.get("count"),
        "rate_per_s": summary.get("rate_per_s"),
        "error_rate": summary.get("error_rate"),
        "server_error_rate": summary.get("server_error_rate"),
        "p50_ms": latency.get("p50"),
        "p95_ms": latency.get("p95"),
        "p99_ms": latency.get("p99"),
        "status_counts": summary.get("status_counts"),
    }


def _plan_result(
    plan: TestPlan,
    source: str,
    url: str,
    outcomes: list[StepOutcome],
    started: float,
    finished: float,
    description_source: str | None,
    notes: list[str],
) -> TestPlanResult:
    counts = {status: 0 for status in ("passed", "failed", "error", "skipped")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    total = len(outcomes)
    if counts["failed"] or (counts["error"] and counts["passed"]):
        status = "failed"
    elif counts["error"]:
        status = "error"
    else:
        status = "passed" if counts["passed"] else "failed"
    return TestPlanResult(
        run_id=f"plan-{uuid.uuid4().hex[:12]}",
        plan_name=plan.name,
        plan_source=source,
        server_url=url,
        status=status,
        total=total,
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["error"],
        skipped=counts["skipped"],
        pass_rate=round(counts["passed"] / total, 4) if total else 0.0,
        started_at=started,
        finished_at=finished,
        duration_ms=round((finished - started) * 1000.0, 1),
        description_source=description_source,
        steps=outcomes,
        notes=notes,
        plan=plan.model_dump(mode="json", exclude_unset=True),
    )
