"""Operations on a running mock's data: its request log and its responses and scenarios."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from mockloop.errors import ConfigError, ScenarioError
from mockloop.mock.request_log.results import MockLogsResult
from mockloop.mock.scenarios.results import MockDataResult
from mockloop.operation import operation
from mockloop.operations.base import AdminTarget, OperationsBase
from mockloop.operations.parameters.typed import ResponseData, ScenarioJson

__all__ = ["MockDataAction", "MockDataOperations", "MockDataResult", "MockLogsResult"]

MockDataAction = Literal[
    "update_response",
    "create_scenario",
    "switch_scenario",
    "list_scenarios",
    "delete_scenario",
    "reset",
]
_ACTIONS: tuple[str, ...] = MockDataAction.__args__  # type: ignore[attr-defined]
_RULE_KEYS = {
    "status",
    "body",
    "example",
    "generate",
    "headers",
    "delay_ms",
    "delay",
    "error_rate",
    "error_status",
    "error_body",
    "sequence",
    "sequence_end",
}


def _as_rule(response_data: Any) -> dict[str, Any]:
    """A response override rule from `response_data`.

    A dict whose keys are all rule fields and that names a `status` or `body` (or a sequence,
    error rate, delay ...) is taken as a rule; anything else is the body to serve.
    """
    if isinstance(response_data, dict) and response_data and set(response_data) <= _RULE_KEYS:
        status = response_data.get("status")
        if status is None or (isinstance(status, int) and not isinstance(status, bool)):
            return dict(response_data)
    return {"body": response_data}


class MockDataOperations(OperationsBase):
    """Request logs, response overrides and scenarios of running mocks."""

    @operation(group="mock", read_only=True, roles=("api_testing",))
    async def query_mock_logs(
        self,
        server_url: str,
        limit: int = 100,
        offset: int = 0,
        method: str | None = None,
        path_pattern: str | None = None,
        time_from: str | float | datetime | None = None,
        time_to: str | float | datetime | None = None,
        include_admin: bool = False,
        analyze: bool = True,
    ) -> MockLogsResult:
        """Read a running mock's request log, newest first, with an analysis of the traffic.

        The analysis covers every record matching the filters (not only this page): latency
        p50/p95/p99, error rates by status and by operation, the traffic pattern over time
        with bursts and top paths, per-session flows (X-Session-ID), operation coverage, and
        recommendations that each cite the figure they come from.

        Args:
            server_url: the mock's business or admin URL, e.g. http://127.0.0.1:8000.
            limit: records to return, 1 to 10000.
            offset: matching records to skip (for paging).
            method: only this HTTP method (GET, POST, ...).
            path_pattern: a regular expression searched in the request path, e.g. "^/pets".
            time_from: earliest request time: epoch seconds, ISO 8601 or a datetime.
            time_to: latest request time: epoch seconds, ISO 8601 or a datetime.
            include_admin: also the admin port's own requests (left out by default).
            analyze: add the analysis of all matching records.
        """
        return await self.services.logs.query(
            server_url,
            limit=limit,
            offset=offset,
            method=method,
            path_pattern=path_pattern,
            time_from=time_from,
            time_to=time_to,
            include_admin=include_admin,
            analyze=analyze,
        )

    @operation(group="mock")
    async def manage_mock_data(
        self,
        server_url: str,
        operation: MockDataAction,
        endpoint_path: str | None = None,
        response_data: ResponseData = None,
        scenario_name: str | None = None,
        scenario_config: ScenarioJson | None = None,
    ) -> MockDataResult:
        """Change a running mock's responses and scenarios without a restart.

        The next request to the mock shows the change. Operations:
        update_response (endpoint_path + response_data), create_scenario (scenario_name +
        scenario_config), switch_scenario (scenario_name), list_scenarios,
        delete_scenario (scenario_name), reset (deactivate the scenario, remove every
        response override, and reset stateful data when the mock keeps any).

        Args:
            server_url: the mock's business or admin URL, e.g. http://127.0.0.1:8000.
            operation: update_response, create_scenario, switch_scenario, list_scenarios,
                delete_scenario or reset.
            endpoint_path: for update_response: an operationId ("getPet"), "METHOD /path/template"
                ("GET /pets/{petId}") or a path template.
            response_data: for update_response: the body to serve, or a rule such as {"status": 503,
                "body": {...}, "headers": {...}, "delay_ms": 200}.
            scenario_name: the scenario to create, switch to or delete.
            scenario_config: for create_scenario: {"description": ..., "rules": [{"operation":
                "getPet", "status": 404}, ...]}: each rule selects operations (operation,
                method, path) and says what to answer (status, body, example, headers,
                delay_ms, error_rate, sequence).
        """
        if operation not in _ACTIONS:
            raise ConfigError(
                f"unknown manage_mock_data operation {operation!r}; use one of: "
                + ", ".join(_ACTIONS)
            )
        target = await self.services.admin.target(server_url)
        result = await getattr(self, f"_mock_data_{operation}")(
            target, endpoint_path, response_data, scenario_name, scenario_config
        )
        active = await self.services.admin.call(target, "GET", "/api/mock-data/scenarios/active")
        return MockDataResult(
            operation=operation,
            server_url=server_url,
            admin_url=target.admin_url,
            active_scenario=active.get("active"),
            **result,
        )

    # -- the actions ------------------------------------------------------------------------

    async def _mock_data_update_response(
        self, target: AdminTarget, endpoint: str | None, data: Any, *_: Any
    ) -> dict[str, Any]:
        if not endpoint:
            raise ConfigError(
                "update_response needs endpoint_path: an operationId or 'METHOD /path/template'"
            )
        if data is None:
            raise ConfigError(
                "update_response needs response_data: the body to serve or a rule "
                '({"status": 200, "body": ...})'
            )
        rule = _as_rule(data)
        answer = await self.services.admin.call(
            target, "PUT", f"/api/mock-data/responses/{quote(endpoint, safe='/{}')}", json=rule
        )
        return {
            "message": f"{endpoint} now answers with the override",
            "override": answer["override"],
            "endpoint": endpoint,
        }

    async def _mock_data_create_scenario(
        self,
        target: AdminTarget,
        _endpoint: str | None,
        _data: Any,
        name: str | None,
        config: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if config is None:
            raise ScenarioError(
                'create_scenario needs scenario_config, e.g. {"rules": [{"operation": '
                '"getPet", "status": 404}]} (see docs/scenarios.md)'
            )
        if not isinstance(config, dict):
            raise ScenarioError("scenario_config must be a JSON object with a 'rules' list")
        name = name or config.get("name")
        if not name:
            raise ScenarioError("create_scenario needs scenario_name (or a 'name' in the config)")
        if config.get("name") not in (None, name):
            raise ScenarioError(
                f"scenario_name {name!r} and scenario_config name {config['name']!r} differ"
            )
        saved = await self.services.admin.call(
            target, "POST", "/api/mock-data/scenarios", json={**config, "name": name}
        )
        return {
            "message": f"scenario {name!r} created; switch_scenario activates it",
            "scenario": saved,
        }

    async def _mock_data_switch_scenario(
        self, target: AdminTarget, _e: Any, _d: Any, name: str | None, _c: Any
    ) -> dict[str, Any]:
        if not name:
            raise ScenarioError("switch_scenario needs scenario_name")
        await self.services.admin.call(
            target, "POST", f"/api/mock-data/scenarios/{quote(name, safe='')}/activate"
        )
        scenario = await self.services.admin.call(
            target, "GET", f"/api/mock-data/scenarios/{quote(name, safe='')}"
        )
        return {"message": f"scenario {name!r} is active", "scenario": scenario}

    async def _mock_data_list_scenarios(self, target: AdminTarget, *_: Any) -> dict[str, Any]:
        listing = await self.services.admin.call(target, "GET", "/api/mock-data/scenarios")
        count = len(listing["scenarios"])
        return {"message": f"{count} scenario(s) stored", "scenarios": listing["scenarios"]}

    async def _mock_data_delete_scenario(
        self, target: AdminTarget, _e: Any, _d: Any, name: str | None, _c: Any
    ) -> dict[str, Any]:
        if not name:
            raise ScenarioError("delete_scenario needs scenario_name")
        await self.services.admin.call(
            target, "DELETE", f"/api/mock-data/scenarios/{quote(name, safe='')}"
        )
        return {"message": f"scenario {name!r} deleted"}

    async def _mock_data_reset(self, target: AdminTarget, *_: Any) -> dict[str, Any]:
        await self.services.admin.call(target, "POST", "/api/mock-data/scenarios/deactivate")
        await self.services.admin.call(target, "DELETE", "/api/mock-data/responses")
        done = ["scenario deactivated", "response overrides removed"]
        state = await self.services.admin.call(target, "GET", "/api/state")
        if isinstance(state, dict) and state.get("enabled"):
            await self.services.admin.call(
                target, "POST", "/api/state/reset", json={"reseed": True}
            )
            done.append("stateful data reset to its seed")
        return {"message": "; ".join(done)}
