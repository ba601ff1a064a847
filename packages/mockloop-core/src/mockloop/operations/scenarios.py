"""Validate, deploy, switch and list scenarios on running mocks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from mockloop.errors import ConfigError, ServerError
from mockloop.mock.scenarios.check import (
    ScenarioCheck,
    as_scenario_data,
    check_scenario,
)
from mockloop.mock.scenarios.results import (
    ActiveScenarioEntry,
    ActiveScenarioList,
    ScenarioDeployResult,
    ScenarioSwitchResult,
    ScenarioValidationResult,
    ScenarioVerification,
)
from mockloop.mock.scenarios.rules import Scenario, parse_scenario
from mockloop.mock.scenarios.verify import (
    ProbeRequest,
    VerificationPlan,
    judge,
    judge_validation_rules,
    override_rules,
    plan_verification,
)
from mockloop.operation import operation
from mockloop.operations.base import AdminTarget, OperationsBase, normalise_url
from mockloop.operations.parameters.typed import ApiDocumentJson, ScenarioJson
from mockloop.operations.services.scenarios import NOT_CHECKED, scenario_path
from mockloop.spec import ApiSpec, Operation

__all__ = ["ScenarioToolOperations"]

VERIFICATION_HEADER = "X-MockLoop-Verification"


def _name(scenario_name: Any) -> str:
    if not isinstance(scenario_name, str) or not scenario_name.strip():
        raise ConfigError("scenario_name must be a scenario's name, e.g. 'slow_pets'")
    return scenario_name


def _probe_request(spec: ApiSpec, op: Operation) -> ProbeRequest | None:
    """A request for `op` with generated path, query, header values, body and credentials."""
    from mockloop.load.mix import templates_from_spec

    templates, _ = templates_from_spec(spec, operation_ids={op.operation_id}, credentials=True)
    if not templates or not templates[0].targets:
        return None
    template = templates[0]
    return ProbeRequest(
        method=template.method,
        target=template.targets[0],
        headers=dict(template.headers),
        body=template.body,
    )


class ScenarioToolOperations(OperationsBase):
    """Validate, deploy, switch and list scenarios on running mocks."""

    @operation(group="scenarios", read_only=True, roles=("api_testing",))
    async def validate_scenario_config(
        self,
        scenario_config: ScenarioJson | str,
        strict_validation: bool = True,
        check_endpoints: bool = True,
        api_spec: str | ApiDocumentJson | None = None,
        server_url: str | None = None,
    ) -> ScenarioValidationResult:
        """Check a scenario field by field and against an API description; list every problem.

        Each problem names its location (rules[2].delay.mean_ms), what is wrong and how to fix
        it. An invalid scenario is reported (valid=False), never raised. Strict validation is
        the published format docs/scenario.schema.json: exact JSON types, no unknown fields,
        and at the top level only name, description, rules, test_parameters,
        validation_rules, metadata, the metadata keys
        (type, scenario_type, test_plan, tags, version, source, created_at, expected_outcomes,
        load_profile, notes) and x-* keys. Without it, convertible values ("200") and unknown
        top-level keys are warnings. With check_endpoints and a description, every rule must
        select an operation; rules that never apply, undocumented statuses and unknown
        example names are reported too. The original MockLoop shape (scenario_name,
        scenario_type, endpoints: [{path, method, response_config: {status_code,
        response_time_ms, response_data, headers}}], test_parameters, validation_rules) is
        accepted: each endpoint becomes a rule, and `normalisation` lists every rewrite and
        what is kept but not acted upon.

        Args:
            scenario_config: the scenario: {"name", "description", "rules": [{"operation":
                "getPet", "status": 404}, ...]}: each rule selects operations (operation,
                method, path) and says what to answer (status, body, example, headers,
                delay_ms, error_rate, sequence); or the same as JSON/YAML text.
            strict_validation: validate against the strict format; False turns conversions and
                unknown top-level keys into warnings.
            check_endpoints: check that each rule selects an operation of the description given
                by api_spec or server_url (a warning says so when neither is given).
            api_spec: the description to check against: a path, an http(s) URL, a dict or
                YAML/JSON text.
            server_url: a running MockLoop mock (business or admin URL) whose description to
                check against, instead of api_spec.
        """
        data = as_scenario_data(scenario_config)
        spec: ApiSpec | None = None
        checked_against = None
        notes: list[str] = []
        if check_endpoints:
            if api_spec is not None and server_url is not None:
                raise ConfigError(
                    "give api_spec or server_url to check endpoints against, not both"
                )
            if api_spec is not None:
                spec = await self._load_spec(api_spec)
                checked_against = f"{spec.title} ({spec.source})"
            elif server_url is not None:
                target = await self.services.admin.target(server_url)
                spec, note = await self.services.scenarios.mock_spec(target)
                if spec is not None:
                    checked_against = f"{spec.title} (the mock at {target.business_url})"
                elif note:
                    notes.append(note)
        check = await self._in_thread(
            check_scenario,
            data,
            strict=strict_validation,
            operations=spec.operations if spec is not None else None,
            api_title=spec.title if spec is not None else "the description",
            document=spec.document if spec is not None else None,
        )
        if check_endpoints and spec is None:
            check.add("rules", notes[0] if notes else NOT_CHECKED, "warning")
        return _validation_result(data, check, strict_validation, checked_against)

    @operation(group="scenarios", roles=("api_testing",))
    async def deploy_scenario(
        self,
        server_url: str,
        scenario_config: ScenarioJson | str,
        validate_before_deploy: bool = True,
        force_deploy: bool = False,
        activate: bool = False,
        strict_validation: bool = True,
    ) -> ScenarioDeployResult:
        """Store a scenario on a running mock (create or replace it), after validating it.

        Validation runs against the mock's own description; any problem stops the deployment
        with a ScenarioError listing every problem with its location, unless force_deploy.
        Metadata keys (type, test_plan, ...) are kept under the scenario's metadata. The
        scenario is not activated unless activate=True (or switch_scenario later); replacing
        the active scenario takes effect on the next request. A scenario in the original
        MockLoop shape (scenario_name, endpoints with response_config) is normalised into
        rules first; the answer's `normalisation` and message say how.

        Args:
            server_url: the mock's business or admin URL, e.g. http://127.0.0.1:8000.
            scenario_config: the scenario: {"name", "description", "rules": [{"operation":
                "getPet", "status": 404}, ...]}: each rule selects operations (operation,
                method, path) and says what to answer (status, body, example, headers,
                delay_ms, error_rate, sequence); or the same as JSON/YAML text.
            validate_before_deploy: validate first (as validate_scenario_config does, against the
                mock's description).
            force_deploy: deploy despite validation problems, reporting them as warnings; the
                mock still refuses a scenario it cannot serve.
            activate: also make it the mock's active scenario.
            strict_validation: validate against the strict format (see validate_scenario_config).
        """
        target = await self.services.admin.target(server_url)
        return await self.services.scenarios.deploy(
            target,
            server_url,
            scenario_config,
            validate_before_deploy=validate_before_deploy,
            force_deploy=force_deploy,
            activate=activate,
            strict_validation=strict_validation,
        )

    @operation(group="scenarios")
    async def switch_scenario(
        self,
        server_url: str,
        scenario_name: str,
        verify_switch: bool = True,
    ) -> ScenarioSwitchResult:
        """Activate a stored scenario on a running mock and confirm it with one real request.

        Verification sends one request to the business port for an operation the scenario's
        rules answer (path, query and body generated from the description, placeholder
        credentials) and compares the answer with the rule: status, the headers and body it
        sets, and elapsed time against a fixed delay; the scenario's validation_rules (status,
        response_time, header, body) are judged on the same answer. The request is real: the
        mock logs it (with an X-MockLoop-Verification header) and it draws from the mock's
        seeded random stream; when it consumed a sequence's first entry the scenario is
        activated again so real traffic starts that sequence from its first entry. Rules
        answering at random
        (0 < error_rate < 1) cannot be confirmed: verified is then None with the reason.

        Args:
            server_url: the mock's business or admin URL, e.g. http://127.0.0.1:8000.
            scenario_name: the stored scenario to activate (deploy_scenario stores one).
            verify_switch: send the verification request and report its evidence.
        """
        name = _name(scenario_name)
        target = await self.services.admin.target(server_url)
        before = await self.services.admin.call(target, "GET", "/api/mock-data/scenarios/active")
        await self.services.admin.call(target, "POST", f"{scenario_path(name)}/activate")
        stored = await self.services.admin.call(target, "GET", scenario_path(name))
        scenario = parse_scenario(stored.get("config") or {}, name=name)
        verification = None
        if verify_switch:
            verification = await self._verify(target, scenario)
        after = await self.services.admin.call(target, "GET", "/api/mock-data/scenarios/active")
        verified = None
        if verification is not None and verification.status != "not_verifiable":
            verified = verification.status == "verified"
        message = f"Scenario {name!r} is active on {target.admin_url}"
        if before.get("active") and before.get("active") != name:
            message += f" (was {before['active']!r})"
        if verification is None:
            message += "; not verified (verify_switch=False)."
        else:
            message += f"; verification {verification.status}: {verification.reason}."
        return ScenarioSwitchResult(
            scenario_name=name,
            server_url=server_url,
            admin_url=target.admin_url,
            business_url=target.business_url,
            previous_scenario=before.get("active"),
            active_scenario=after.get("active"),
            rule_count=len(scenario.rules),
            verified=verified,
            verification=verification,
            message=message,
        )

    @operation(group="scenarios", read_only=True)
    async def list_active_scenarios(
        self,
        server_urls: list[str] | None = None,
        discover_servers: bool = True,
        ports: list[int] | None = None,
    ) -> ActiveScenarioList:
        """List the active scenario of each running mock, with its rule count.

        Asks the mocks at server_urls or, when none are given, every running mock in the
        registry (started by MockLoop) plus, with discover_servers, the MockLoop mocks found
        on this machine's ports. A mock that cannot be reached is listed with its error; it
        does not fail the call.

        Args:
            server_urls: mocks to ask (business or admin URLs); default: the registry and
                discovery.
            discover_servers: when no server_urls are given, also scan local ports for MockLoop
                mocks that are not in the registry.
            ports: ports to scan when discovering; default: registered ports plus common ones
                (8000-8010, 3000, 5000, 8080, 8888).
        """
        sources: list[tuple[str, str]] = []
        if server_urls:
            if isinstance(server_urls, str) or not all(isinstance(u, str) for u in server_urls):
                raise ConfigError(
                    "server_urls must be a list of URLs, e.g. ['http://127.0.0.1:8000']"
                )
            sources = [(url, "given") for url in server_urls]
        else:
            sources = await self._found_mocks(discover_servers, ports)
        entries = await asyncio.gather(*(self._active_entry(url, how) for url, how in sources))
        unique: list[ActiveScenarioEntry] = []
        seen: set[str] = set()
        for entry in entries:
            key = entry.admin_url or entry.server_url
            if key in seen:
                continue
            seen.add(key)
            unique.append(entry)
        reachable = [e for e in unique if e.reachable]
        return ActiveScenarioList(
            servers=unique,
            checked=len(unique),
            reachable=len(reachable),
            unreachable=len(unique) - len(reachable),
            with_active_scenario=sum(1 for e in reachable if e.active_scenario),
            sources=sorted({how for _, how in sources}),
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _verify(self, target: AdminTarget, scenario: Scenario) -> ScenarioVerification:
        if not target.business_url:
            return ScenarioVerification(
                status="not_verifiable",
                reason=f"the mock at {target.admin_url} reports no business URL to send to",
            )
        spec, note = await self.services.scenarios.mock_spec(target)
        if spec is None:
            reason = (note or "").replace("endpoints were not checked: ", "")
            return ScenarioVerification(status="not_verifiable", reason=reason)
        overrides = await self.services.admin.call(target, "GET", "/api/mock-data/responses")
        plan, notes = await self._in_thread(
            plan_verification,
            scenario,
            spec.operations,
            override_rules(overrides.get("overrides") or {}),
            lambda op: _probe_request(spec, op),
        )
        if plan is None:
            return ScenarioVerification(
                status="not_verifiable",
                reason="no rule can be confirmed with one request: " + "; ".join(notes),
                notes=notes,
            )
        return await self._send_probe(target, scenario, plan, notes)

    async def _send_probe(
        self,
        target: AdminTarget,
        scenario: Scenario,
        plan: VerificationPlan,
        notes: list[str],
    ) -> ScenarioVerification:
        request = plan.request
        url = f"{target.business_url}{request.target}"
        headers = {**request.headers, VERIFICATION_HEADER: "switch_scenario"}
        evidence: dict[str, Any] = {
            "method": request.method,
            "url": url,
            "headers": headers,
            "body_bytes": len(request.body or b""),
        }
        base = {
            "rule": plan.rule_location,
            "answer": plan.answer,
            "operation_id": plan.operation.operation_id,
            "request": evidence,
            "notes": [*notes, *plan.notes],
        }
        timeout = self.settings.timeout + (plan.min_delay_ms or 0.0) / 1000.0
        # The business port gets no admin token: it is the API under test, not the admin API.
        http = self.services.http.client()
        started = time.perf_counter()
        try:
            response = await http.request(
                request.method, url, headers=headers, content=request.body, timeout=timeout
            )
        except httpx.HTTPError as exc:
            return ScenarioVerification(
                status="failed",
                reason=f"the request got no answer ({type(exc).__name__}: {exc})",
                **base,
            )
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        checks = judge(plan, response.status_code, response.headers, response.content, elapsed_ms)
        # The scenario's own expectations (validation_rules) are judged on the same answer.
        rule_checks, rule_notes = judge_validation_rules(
            scenario.validation_rules,
            response.status_code,
            response.headers,
            response.content,
            elapsed_ms,
        )
        checks += rule_checks
        base["notes"] = [*base["notes"], *rule_notes]
        restarted = False
        if plan.uses_sequence:
            await self.services.admin.call(
                target, "POST", f"{scenario_path(scenario.name)}/activate"
            )
            restarted = True
        shown = {"content-type"} | {name.lower() for name in plan.expected_headers}
        base["response"] = {
            "status": response.status_code,
            "elapsed_ms": round(elapsed_ms, 1),
            "headers": {k: v for k, v in response.headers.items() if k.lower() in shown},
            "body": response.text[:500],
        }
        failed = [c for c in checks if not c.ok]
        if failed:
            reason = "the answer does not match the rule: " + "; ".join(
                f"{c.what} expected {c.expected!r}, observed {c.observed!r}" for c in failed
            )
            if plan.uses_sequence:
                reason += " (other traffic to the operation since activation moves a sequence on)"
            status = "failed"
        else:
            reason = (
                f"{plan.operation.operation_id} answered as {plan.rule_location} says "
                f"({len(checks)} check(s) passed)"
            )
            status = "verified"
        return ScenarioVerification(
            status=status,
            reason=reason,
            checks=checks,
            sequences_restarted=restarted,
            **base,
        )

    async def _found_mocks(self, discover: bool, ports: list[int] | None) -> list[tuple[str, str]]:
        from mockloop.servers import discover_servers, list_servers

        found: list[tuple[str, str]] = []
        for server in await self._in_thread(list_servers):
            if server.status == "running":
                found.append((server.business_url, "registry"))
        if discover:
            for port in ports or ():
                if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                    raise ConfigError(f"ports[]={port!r} must be a TCP port between 1 and 65535")
            discovery = await self._in_thread(
                discover_servers, ports=ports, check_health=True, include_generated=False
            )
            for server in discovery.servers:
                url = server.business_url or server.admin_url
                if url and server.healthy is not False:
                    found.append((url, "discovery"))
        unique: dict[str, str] = {}
        for url, how in found:
            unique.setdefault(url.rstrip("/"), how)
        return list(unique.items())

    async def _active_entry(self, url: str, found_by: str) -> ActiveScenarioEntry:
        entry: dict[str, Any] = {"server_url": url, "found_by": found_by}
        try:
            target = await self.services.admin.target(normalise_url(url))
            entry.update(admin_url=target.admin_url, business_url=target.business_url)
            api = target.health.get("api")
            if isinstance(api, dict):
                entry["title"] = api.get("title")
            listing = await self.services.admin.call(target, "GET", "/api/mock-data/scenarios")
        except (ServerError, ConfigError) as exc:
            return ActiveScenarioEntry(reachable=False, error=str(exc), **entry)
        active = listing.get("active")
        stored = listing.get("scenarios") or []
        entry.update(reachable=True, active_scenario=active, stored_scenarios=len(stored))
        if active:
            config = next((s.get("config") or {} for s in stored if s.get("name") == active), {})
            rules = config.get("rules")
            entry["rule_count"] = len(rules) if isinstance(rules, list) else 0
            entry["description"] = config.get("description") or None
        return ActiveScenarioEntry(**entry)


def _validation_result(
    data: dict[str, Any], check: ScenarioCheck, strict: bool, checked_against: str | None
) -> ScenarioValidationResult:
    name = data.get("name", data.get("scenario_name"))
    name = name if isinstance(name, str) else None
    return ScenarioValidationResult(
        scenario_name=name,
        valid=check.valid,
        strict=strict,
        problems=check.problems,
        warnings=check.warnings,
        scenario=check.normalised,
        rule_count=len(check.scenario.rules) if check.scenario is not None else None,
        endpoints_checked=check.endpoints_checked,
        checked_against=checked_against if check.endpoints_checked else None,
        endpoint_matches=check.matches,
        normalisation=check.notes,
    )
