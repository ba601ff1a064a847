"""The five prompts: deterministic analyses of a description that agents build on."""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from mockloop.errors import ConfigError, MockLoopError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import (
    ApiDocumentJson,
    EndpointSelectorJson,
    PerformanceRequirementsJson,
    ScenarioJson,
    ScenarioTestParametersJson,
    TargetLoadJson,
)
from mockloop.operations.services.admin import is_loopback_host
from mockloop.prompts.models import (
    ErrorScenarioSet,
    LoadOptimization,
    OpenApiTestingAnalysis,
    PromptResult,
    ScenarioConfigSet,
    SecurityTestSelection,
)
from mockloop.spec import ApiSpec

__all__ = ["PromptOperations"]

R = TypeVar("R", bound=PromptResult)
_ENDPOINT_TYPES = {"error", "client_error", "server_error", "timeout", "rate_limit"}


def _as_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ConfigError(f"{what} must be a list of strings, e.g. ['load', 'error']")


class PromptOperations(OperationsBase):
    """The five prompts: deterministic analyses of a description that agents build on."""

    async def _finish(self, result: R, ai_optimization: bool, spec: ApiSpec | None) -> R:
        """Refine with the client's model (when asked and present), then render messages."""
        from mockloop.prompts.messages import render_messages
        from mockloop.prompts.refine import refine_result

        result.refinement = await refine_result(
            result, self.llm, requested=ai_optimization, spec=spec
        )
        if result.refinement.mode == "llm":
            result.summary += f" Model refinement: {result.refinement.note}."
        result.messages = render_messages(result.prompt, result.model_dump(mode="json"))
        return result

    async def _mock_traffic(self, api_spec: Any, notes: list[str]) -> dict[str, Any] | None:
        """The request log analysis of the running mock `api_spec` names (None when it is
        not a running mock's URL, or its log cannot be read: said in `notes`)."""
        if not isinstance(api_spec, str) or not api_spec.startswith(("http://", "https://")):
            return None
        parts = urlsplit(api_spec)
        if parts.path not in ("", "/"):
            return None  # the URL of a description document, not a running mock
        host = (parts.hostname or "").lower()
        if not (is_loopback_host(host) or host in self.settings.allow_fetch):
            # Only mocks on this machine, or on hosts the caller allowed, are asked for their
            # log (and so get the admin token): a description URL never leads the client on.
            notes.append(
                f"ai_optimization: {api_spec} is not on loopback or an allow_fetch host; "
                "tuned from the description alone"
            )
            return None
        try:
            logs = await self.services.logs.query(api_spec, limit=1, analyze=True)
        except MockLoopError as exc:
            notes.append(f"ai_optimization: no request log of {api_spec} to tune with ({exc})")
            return None
        if not logs.total:
            notes.append(f"ai_optimization: {api_spec} has served no requests yet to tune with")
            return None
        return logs.analysis

    async def _spec(self, api_spec: Any) -> ApiSpec:
        # A path, URL, dict or text, or a running mock's URL (see BlockingWork.load_spec).
        return await self._load_spec(api_spec)

    @operation(group="prompts", read_only=True, kind="prompt", roles=("api_testing",))
    async def analyze_openapi_for_testing(
        self,
        api_spec: str | ApiDocumentJson,
        analysis_depth: Literal["standard", "comprehensive"] = "standard",
        include_security_tests: bool = True,
        testing_focus: list[str] | None = None,
        ai_optimization: bool = True,
    ) -> OpenApiTestingAnalysis:
        """Analyse an OpenAPI description for testing: risks, auth, dependencies, scenarios, plan.

        Deterministic, no model needed: every operation with its risk (low to critical) and
        the reasons (writes, object ids, URL inputs, money or privileged fields, unbounded
        lists, sensitive response fields...), authentication coverage (schemes, public
        operations, unprotected writes), data dependencies (ids one operation produces and
        another consumes, OpenAPI links), scenarios ready for deploy_scenario (each with a
        test_plan expecting what it makes the mock do), a test plan for execute_test_plan,
        run_security_test arguments and a summary. Iterating the result yields the scenarios.
        As an MCP prompt its message embeds this result for the host's model.

        Args:
            api_spec: the description: a path, an http(s) URL (a running mock's URL reads its
                /openapi.json), a dict or YAML/JSON text.
            analysis_depth: standard (one telling scenario per focus area, happy-path plan) or
                comprehensive (stress, spike, timeouts, injection, XSS, CSRF, edge cases,
                workflows; happy-path plus negative plan).
            include_security_tests: include security scenarios and run_security_test arguments.
            testing_focus: areas to cover: functional, performance, security, reliability;
                None: all.
            ai_optimization: refine the result with the client's llm when one is set (what it
                adds is validated; without an llm the result is deterministic and says so).
        """
        from mockloop.prompts.analysis import analyze_description, resolve_focus_areas

        if analysis_depth not in ("standard", "comprehensive"):
            raise ConfigError(
                f"analysis_depth={analysis_depth!r}; use 'standard' or 'comprehensive'"
            )
        focus = resolve_focus_areas(_as_list(testing_focus, "testing_focus"))
        spec = await self._spec(api_spec)
        result = await self._in_thread(
            analyze_description,
            spec,
            depth=analysis_depth,
            include_security=include_security_tests,
            focus=focus,
            api_spec=api_spec,
        )
        return await self._finish(result, ai_optimization, spec)

    @operation(
        group="prompts",
        read_only=True,
        kind="prompt",
        roles=("api_testing",),
        prompt_requires=("api_spec",),
    )
    async def generate_scenario_config(
        self,
        api_spec: str | ApiDocumentJson | None = None,
        scenario_type: str | None = None,
        scenario_types: list[str] | None = None,
        endpoints: list[str] | None = None,
        test_parameters: ScenarioTestParametersJson | None = None,
        scenario_name: str | None = None,
        ai_optimization: bool = True,
    ) -> ScenarioConfigSet:
        """Generate valid, deployable scenarios of the given types, each with name and test_plan.

        Types: functional, load, stress, spike, endurance, error, client_error, server_error,
        timeout, rate_limit, security, injection, xss, csrf, edge_cases, validation, workflow
        (aliases such as performance, 4xx, 5xx, auth are accepted). Each scenario is built
        from the matching scenario pack, validated strictly against the description, and
        carries a test_plan that expects what it makes the mock answer: deploy it with
        deploy_scenario(activate=True) (or switch_scenario) and run the plan with
        execute_test_plan. Load types carry a load_profile for run_load_test. Iterating the
        result yields the scenarios.

        Args:
            api_spec: the description (path, URL, dict or text); the URL of a running mock
                works (its /openapi.json is read). Without it, endpoints are needed and only
                error, timeout and rate_limit types can be built. Required as an MCP prompt.
            scenario_type: one type (see above); combined with scenario_types.
            scenario_types: several types, e.g. ["load", "error", "security"]; default: load,
                error and security (or edge_cases when nothing requires credentials).
            endpoints: limit the scenarios to these operations (operationIds or "METHOD /path").
            test_parameters: tune them: concurrent_users, duration, ramp_up, target_rps,
                think_time, thresholds (load profiles), error_rate (error rules).
            scenario_name: the name of a single scenario, else the prefix of every name.
            ai_optimization: tune the scenarios for the run: each test_plan's timeout_s
                covers the slowest answer it waits for (the rules' delays, and the latency
                a running mock's request log measured), and when api_spec is a running
                mock's URL load profiles weight its hot operations by their traffic and
                set a p95 threshold its measured latency can meet; each tuned scenario
                says what changed under x-optimization. Then refine with the client's llm
                when one is set (what it adds is validated; without an llm, says so).
        """
        from mockloop.prompts.builders import build_scenarios, check_test_parameters, resolve_types
        from mockloop.prompts.error_scenarios import build_error_scenarios, resolve_endpoints

        wanted = [
            *([scenario_type] if scenario_type else []),
            *(_as_list(scenario_types, "scenario_types") or []),
        ]
        endpoint_list = _as_list(endpoints, "endpoints")
        parameters = check_test_parameters(test_parameters)
        if scenario_name is not None and (not scenario_name.strip() or "/" in scenario_name):
            raise ConfigError("scenario_name must be a non-empty name without '/'")
        spec = await self._spec(api_spec) if api_spec is not None else None
        if spec is None and not endpoint_list:
            raise ConfigError(
                "give api_spec (a description or a running mock's URL), or endpoints such as "
                '["GET /pets"] for error, timeout and rate_limit scenarios'
            )
        if not wanted:
            secured = spec is not None and any(
                op.security and all(op.security) for op in spec.operations
            )
            wanted = ["load", "error", "security" if secured else "edge_cases"]
            if spec is None:
                wanted = ["error", "timeout", "rate_limit"]
        types = resolve_types(wanted)
        notes: list[str] = []
        if spec is not None:
            scenarios, notes = await self._in_thread(
                build_scenarios,
                spec,
                types,
                operations=endpoint_list,
                parameters=parameters,
                scenario_name=scenario_name,
            )
        else:
            usable = [t for t in types if t in _ENDPOINT_TYPES]
            for kind in types:
                if kind not in usable:
                    notes.append(f"{kind}: needs api_spec (a description); left out")
            # "error" is both halves: client and server errors.
            error_kinds: list[str] = []
            for kind in usable:
                for part in ("client_error", "server_error") if kind == "error" else (kind,):
                    if part not in error_kinds:
                        error_kinds.append(part)
            refs = resolve_endpoints(endpoint_list, None)
            scenarios, more = build_error_scenarios(
                refs, error_kinds, "medium", None, prefix=scenario_name or "scenario"
            )
            notes.extend(more)
        if not scenarios:
            raise ConfigError(
                f"no scenario of types {types} could be built: "
                + ("; ".join(notes) or "no operations")
            )
        if ai_optimization:
            from mockloop.prompts.tuning import tune_scenarios

            traffic = await self._mock_traffic(api_spec, notes)
            notes.extend(tune_scenarios(scenarios, traffic))
        api = None
        if spec is not None:
            api = {"title": spec.title, "version": spec.version, "source": spec.source}
        names = ", ".join(s["name"] for s in scenarios)
        with_plans = sum(1 for s in scenarios if s.get("test_plan"))
        result = ScenarioConfigSet(
            prompt="generate_scenario_config",
            summary=(
                f"{len(scenarios)} scenario(s) of type(s) {', '.join(types)}"
                + (f" for {spec.title}" if spec is not None else "")
                + f": {names}. {with_plans} carry a test_plan; deploy with "
                "deploy_scenario(activate=True), then execute_test_plan."
            ),
            scenarios=scenarios,
            notes=notes,
            api=api,
            scenario_types=types,
        )
        return await self._finish(result, ai_optimization, spec)

    @operation(group="prompts", read_only=True, kind="prompt")
    async def optimize_scenario_for_load(
        self,
        base_scenario: ScenarioJson | str,
        target_load: int | float | TargetLoadJson,
        performance_requirements: PerformanceRequirementsJson | None = None,
        api_spec: str | ApiDocumentJson | None = None,
        ai_optimization: bool = True,
    ) -> LoadOptimization:
        """Compute a load profile for a scenario (users or rate, ramp, mix, duration, thresholds).

        Reads the latency and errors the scenario's rules add, applies Little's law to turn a
        target rate into users (or users into the reachable rate), picks the ramp-up, the
        request mix and thresholds from the performance requirements (or from the scenario's
        own figures), and explains each figure. The profile is in run_load_test terms; the
        returned scenario is the base one with the profile under load_profile, ready for
        deploy_scenario.

        Args:
            base_scenario: the scenario (dict, or JSON/YAML text), or the name of one already
                deployed (its rules are then unknown).
            target_load: users (a number) or {"concurrent_users", "requests_per_second",
                "duration", "ramp_up", "pattern": steady|spike|stress|endurance, "think_time"}.
            performance_requirements: limits such as {"p95_ms": 200, "error_rate": 0.01,
                "min_rps": 100} (also max_response_time_ms, max_error_rate, throughput_rps).
            api_spec: the description, to build the request mix from the scenario's operations.
            ai_optimization: refine with the client's llm when one is set (what it adds is
                validated; without an llm the result is deterministic and says so).
        """
        from mockloop.mock.scenarios.check import as_scenario_data, check_scenario
        from mockloop.prompts.load_profile import (
            build_load_profile,
            parse_requirements,
            parse_target_load,
        )

        notes: list[str] = []
        if (
            isinstance(base_scenario, str)
            and base_scenario.strip()
            and not any(ch in base_scenario for ch in "{:\n")
        ):
            data: dict[str, Any] = {"name": base_scenario.strip(), "rules": []}
            notes.append(
                f"base_scenario {base_scenario!r} is a name: its rules are unknown, so no added "
                "latency is assumed"
            )
        else:
            data = as_scenario_data(base_scenario)
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise ConfigError("base_scenario needs a name")
        target = parse_target_load(target_load)
        requirements = parse_requirements(performance_requirements)
        spec = await self._spec(api_spec) if api_spec is not None else None
        profile, reasoning, estimates = await self._in_thread(
            build_load_profile, data, target, requirements, spec
        )
        tuned = {**data, "load_profile": profile}
        tuned.setdefault("type", "load")
        scenarios: list[dict[str, Any]] = []
        if data.get("rules"):
            check = check_scenario(
                tuned,
                strict=True,
                operations=spec.operations if spec is not None else None,
                document=spec.document if spec is not None else None,
            )
            if check.problems:
                notes.append(
                    "the base scenario does not validate, so it is not returned: "
                    + "; ".join(str(p) for p in check.problems[:5])
                )
            else:
                scenarios.append(tuned)
        users = profile["concurrent_users"]
        rate = f"{profile['target_rps']:g} req/s, " if "target_rps" in profile else ""
        thresholds = ", ".join(f"{k} {v:g}" for k, v in profile["thresholds"].items())
        result = LoadOptimization(
            prompt="optimize_scenario_for_load",
            summary=(
                f"Load profile for {data['name']!r}: {rate}{users} user(s), ramp-up "
                f"{profile['ramp_up']:g} s, {profile['duration']:g} s; thresholds {thresholds}. "
                f"Expected about {estimates['expected_rps']} req/s at "
                f"{estimates['time_in_system_ms']} ms per request."
            ),
            scenarios=scenarios,
            notes=notes,
            load_profile=profile,
            reasoning=reasoning,
            estimates=estimates,
        )
        return await self._finish(result, ai_optimization, spec)

    @operation(group="prompts", read_only=True, kind="prompt", prompt_requires=("api_endpoints",))
    async def generate_error_scenarios(
        self,
        api_endpoints: list[str | EndpointSelectorJson] | None = None,
        error_types: list[str] | None = None,
        severity_level: Literal["low", "medium", "high", "critical"] = "medium",
        api_spec: str | ApiDocumentJson | None = None,
        ai_optimization: bool = True,
    ) -> ErrorScenarioSet:
        """Generate error scenarios for endpoints: 4xx, 5xx, timeouts, rate limits, bad bodies.

        One scenario per error type, each rule on one endpoint: the client error that fits
        its method (404 item reads, 409 creates, 422 updates, 400 otherwise), 500/502/503,
        delays past client timeouts, 429 with Retry-After after N calls, bodies that break the
        contract. Severity sets the share of failing calls (low 5%, medium 20%, high 50%,
        critical all), the delays and the calls allowed before 429. Each scenario has a
        test_plan expecting what it makes the mock answer.

        Args:
            api_endpoints: endpoints as "METHOD /path" (e.g. "GET /pets/{petId}"),
                operationIds (with api_spec) or {"method", "path"} objects; None or empty:
                every operation of api_spec. Required as an MCP prompt (there, "all" with
                api_spec: every operation).
            error_types: client_error, server_error, timeout, rate_limit, malformed_response
                (or 4xx, 5xx, timeouts, rate_limiting, malformed); None: all.
            severity_level: low, medium, high or critical.
            api_spec: the description the endpoints belong to: rules then name operationIds
                and plans send valid requests.
            ai_optimization: refine with the client's llm when one is set (what it adds is
                validated; without an llm the result is deterministic and says so).
        """
        from mockloop.prompts.error_scenarios import (
            build_error_scenarios,
            resolve_endpoints,
            resolve_error_types,
        )

        types = resolve_error_types(_as_list(error_types, "error_types"))
        spec = await self._spec(api_spec) if api_spec is not None else None
        if isinstance(api_endpoints, str):
            api_endpoints = [part.strip() for part in api_endpoints.split(",") if part.strip()]
        refs = resolve_endpoints(api_endpoints, spec)
        scenarios, notes = await self._in_thread(
            build_error_scenarios, refs, types, severity_level, spec
        )
        labels = [ref.label for ref in refs]
        result = ErrorScenarioSet(
            prompt="generate_error_scenarios",
            summary=(
                f"{len(scenarios)} {severity_level}-severity error scenario(s) "
                f"({', '.join(types)}) for {len(labels)} endpoint(s): "
                + ", ".join(s["name"] for s in scenarios)
                + ". Deploy one with deploy_scenario(activate=True) and run its test_plan."
            ),
            scenarios=scenarios,
            notes=notes,
            endpoints=labels,
            error_types=types,
            severity_level=severity_level,
        )
        return await self._finish(result, ai_optimization, spec)

    @operation(group="prompts", read_only=True, kind="prompt", roles=("security",))
    async def generate_security_test_scenarios(
        self,
        api_spec: str | ApiDocumentJson,
        security_focus: list[str] | None = None,
        compliance_requirements: list[str] | None = None,
        ai_optimization: bool = True,
    ) -> SecurityTestSelection:
        """Choose the security probes for an API and build mock scenarios of auth failures.

        Selects run_security_test's probe families from what the description has (secured
        operations with object ids, URL-valued inputs, writes with bodies, string inputs...),
        each with its reason and OWASP API 2023 category, plus those a compliance framework
        needs; families left out say why. Returns the run_security_test arguments (add
        server_url) and mock scenarios that exercise a client's handling of expired tokens,
        missing scopes, revoked sessions, CSRF refusals, injection leaks, XSS payloads and
        rate limits.

        Args:
            api_spec: the description (path, URL, dict or text; a running mock's URL works).
            security_focus: limit to these categories: "API1".."API10", family names
                (object_authorization, authentication, property_authorization,
                resource_consumption, function_authorization, ssrf, misconfiguration,
                inventory, injection) or aliases (bola, sqli, cors...); None: what applies.
            compliance_requirements: frameworks whose controls to cover: OWASP-API-2023,
                PCI-DSS-4.0, SOC2, ISO-27001-2022, NIST-800-53, GDPR, HIPAA, SOX.
            ai_optimization: refine with the client's llm when one is set (what it adds is
                validated; without an llm the result is deterministic and says so).
        """
        from mockloop.prompts.builders import builtin_packs
        from mockloop.prompts.security_selection import SCENARIOS_BY_FAMILY, security_arguments

        focus = _as_list(security_focus, "security_focus")
        frameworks_in = _as_list(compliance_requirements, "compliance_requirements")
        spec = await self._spec(api_spec)
        arguments, selected, left_out, frameworks = security_arguments(
            spec, api_spec, focus, frameworks_in
        )
        scenarios, notes = await self._in_thread(
            _security_scenarios,
            spec,
            [e["family"] for e in selected],
            builtin_packs,
            SCENARIOS_BY_FAMILY,
        )
        result = SecurityTestSelection(
            prompt="generate_security_test_scenarios",
            summary=(
                f"{spec.title}: {len(selected)} probe familie(s) for run_security_test ("
                + ", ".join(e["family"] for e in selected)
                + f"), {len(left_out)} left out"
                + (f"; compliance: {', '.join(frameworks)}" if frameworks else "")
                + f". {len(scenarios)} mock scenario(s) of auth and input failures: "
                + ", ".join(s["name"] for s in scenarios)
                + "."
            ),
            scenarios=scenarios,
            notes=notes,
            run_security_test=arguments,
            selected=selected,
            not_selected=left_out,
            compliance=frameworks,
        )
        return await self._finish(result, ai_optimization, spec)


def _security_scenarios(
    spec: ApiSpec, families: list[str], packs: Any, by_family: dict[str, list[tuple[str, str]]]
) -> tuple[list[dict[str, Any]], list[str]]:
    from mockloop.packs.apply import apply_pack
    from mockloop.packs.plans import OperationRequests

    requests = OperationRequests(spec)
    secured = any(op.security and all(op.security) for op in spec.operations)
    wanted: list[tuple[str, str]] = []
    for family in families:
        for entry in by_family.get(family, []):
            if entry[0] == "security/auth-bypass" and not secured:
                continue
            if entry not in wanted:
                wanted.append(entry)
    scenarios: list[dict[str, Any]] = []
    notes: list[str] = []
    for pack_path, template in wanted:
        pack = packs().get(f"scenario-pack://{pack_path}").pack
        applied = apply_pack(
            pack,
            spec,
            requests=requests,
            templates=[template],
            names={template: f"security-{template}"},
        )
        scenarios.extend(applied.scenarios)
        notes.extend(applied.notes)
    if not secured:
        notes.append("no operation requires credentials: no auth-failure scenario")
    return scenarios, notes
