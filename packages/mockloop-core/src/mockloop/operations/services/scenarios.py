"""Scenarios on running mocks, as more than one group of operations uses them: a mock's own
description, and deploying a scenario after validating it against that description."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from mockloop.errors import ConfigError, ScenarioError, SpecError
from mockloop.mock.scenarios.check import (
    ScenarioCheck,
    ScenarioProblem,
    as_scenario_data,
    check_scenario,
    deployable_form,
)
from mockloop.mock.scenarios.original import normalise_original_shape
from mockloop.mock.scenarios.results import ScenarioDeployResult
from mockloop.operations.services.admin import PROBE_TIMEOUT, AdminApi, AdminTarget
from mockloop.operations.services.http import SharedHttp
from mockloop.operations.services.work import BlockingWork
from mockloop.settings import PROBE, ClientSettings
from mockloop.spec import ApiSpec

__all__ = ["NOT_CHECKED", "ScenarioDeployer", "scenario_path"]

NOT_CHECKED = (
    "endpoints were not checked: give api_spec (a description) or server_url (a running mock) "
    "to check that every rule selects an operation"
)


def scenario_path(name: str) -> str:
    """The admin API path of the stored scenario `name`."""
    return f"/api/mock-data/scenarios/{quote(name, safe='')}"


class ScenarioDeployer:
    """Deploys scenarios to running mocks (`deploy_scenario`, `apply_scenario_pack`).

    Args:
        settings: the client's settings.
        admin: the admin APIs of mocks.
        http: the client's connection pool.
        work: the client's blocking work.
    """

    def __init__(
        self, settings: ClientSettings, admin: AdminApi, http: SharedHttp, work: BlockingWork
    ) -> None:
        self.settings = settings
        self.admin = admin
        self.http = http
        self.work = work

    async def mock_spec(self, target: AdminTarget) -> tuple[ApiSpec | None, str | None]:
        """The description a mock serves (its /openapi.json), or None and why not."""
        if not target.business_url:
            return None, (
                f"endpoints were not checked: the mock at {target.admin_url} reports no "
                "business URL to read its description from"
            )
        url = f"{target.business_url}/openapi.json"
        timeout = min(self.settings.timeout, PROBE_TIMEOUT)
        try:
            response = await self.http.client().get(url, headers=PROBE, timeout=timeout)
            document = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            document = None
        if not isinstance(document, dict):
            return None, f"endpoints were not checked: {url} gave no description"
        try:
            return await self.work.load_spec(document), None
        except SpecError as exc:
            return None, f"endpoints were not checked: the mock's description does not load: {exc}"

    async def deploy(
        self,
        target: AdminTarget,
        server_url: str,
        scenario_config: dict[str, Any] | str,
        validate_before_deploy: bool = True,
        force_deploy: bool = False,
        activate: bool = False,
        strict_validation: bool = True,
    ) -> ScenarioDeployResult:
        """Store a scenario on the mock at `target`, as `deploy_scenario` documents it."""
        data = as_scenario_data(scenario_config)
        warnings: list[ScenarioProblem] = []
        notes = normalise_original_shape(data).notes
        forced = False
        payload = deployable_form(data)
        if validate_before_deploy:
            spec, note = await self.mock_spec(target)
            check = await self.work.run(
                check_scenario,
                data,
                strict=strict_validation,
                operations=spec.operations if spec is not None else None,
                api_title=spec.title if spec is not None else "the description",
                document=spec.document if spec is not None else None,
            )
            if spec is None:
                check.add("rules", note or NOT_CHECKED, "warning")
            if check.problems and not force_deploy:
                raise ScenarioError(_refusal(data, check))
            forced = bool(check.problems)
            warnings = [
                *(
                    p.model_copy(
                        update={"severity": "warning", "message": f"deployed anyway: {p.message}"}
                    )
                    for p in check.problems
                ),
                *check.warnings,
            ]
            notes = check.notes
            if check.normalised is not None:
                payload = check.normalised
        name = payload.get("name")
        if not isinstance(name, str) or not name:
            raise ScenarioError(
                "name: a scenario needs a name to be deployed (1 to 200 characters)"
            )
        listing = await self.admin.call(target, "GET", "/api/mock-data/scenarios")
        existed = any(s.get("name") == name for s in listing.get("scenarios", []))
        try:
            stored = await self.admin.call(target, "PUT", scenario_path(name), json=payload)
        except (ScenarioError, ConfigError) as exc:
            raise ScenarioError(
                f"the mock at {target.admin_url} refused scenario {name!r}: {exc}"
            ) from None
        if activate:
            await self.admin.call(target, "POST", f"{scenario_path(name)}/activate")
        active = (await self.admin.call(target, "GET", "/api/mock-data/scenarios/active")).get(
            "active"
        )
        rules = (stored.get("config") or {}).get("rules") or []
        action = "replaced" if existed else "created"
        if active == name:
            state = "and activated" if activate else "and it is active: in effect now"
        else:
            state = "not active (switch_scenario activates it)"
        message = (
            f"Scenario {name!r} {action} on {target.admin_url} with {len(rules)} rule(s), {state}."
        )
        rewritten = [note for note in notes if note.startswith("normalised: ")]
        if rewritten:
            message += (
                f" Normalised from the original MockLoop shape ({len(rewritten)} endpoint(s) -> "
                f"rules): "
                + "; ".join(note.removeprefix("normalised: ") for note in rewritten)
                + "."
            )
        return ScenarioDeployResult(
            scenario_name=name,
            server_url=server_url,
            admin_url=target.admin_url,
            action=action,
            validated=validate_before_deploy,
            forced=forced,
            activated=activate,
            active=active == name,
            active_scenario=active,
            rule_count=len(rules),
            warnings=warnings,
            scenario=stored.get("config") or payload,
            normalisation=notes,
            message=message,
        )


def _refusal(data: dict[str, Any], check: ScenarioCheck) -> str:
    name = data.get("name")
    label = f"scenario {name!r}" if isinstance(name, str) and name else "the scenario"
    lines = [f"{label} is invalid ({len(check.problems)} problem(s)); nothing was deployed:"]
    lines += [f"- {problem}" for problem in check.problems]
    lines.append(
        "Fix them, or pass force_deploy=True to deploy anyway (the mock still refuses what it "
        "cannot serve)."
    )
    return "\n".join(lines)
