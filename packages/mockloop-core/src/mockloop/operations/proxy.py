"""Operations for mock, proxy and hybrid plugins: create one, change its mode and rules at run
time, record and replay, compare the mock with the live API, and call the API's operations as
tools."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any, Literal

import httpx

from mockloop.errors import ConfigError, MockLoopError, ServerError
from mockloop.operation import operation
from mockloop.operations.base import AdminTarget, OperationsBase, normalise_url
from mockloop.operations.parameters.typed import (
    AuthConfigJson,
    ComparisonRequestJson,
    ProxySettingsJson,
    RoutingRuleJson,
)
from mockloop.progress import report_progress
from mockloop.proxy.compare import compare_requests, http_sender, plan_requests
from mockloop.proxy.results import (
    ApiCallResult,
    ApiToolList,
    ComparisonReport,
    McpPlugin,
    ProxyStatus,
    RecordingResult,
    public_url,
    status_result,
)
from mockloop.proxy.settings import parse_auth, parse_proxy_settings
from mockloop.proxy.tools import ApiTool, api_tools
from mockloop.spec import ApiSpec

__all__ = [
    "ApiCallResult",
    "ApiToolList",
    "ComparisonReport",
    "McpPlugin",
    "ProxyOperations",
    "ProxyStatus",
    "RecordingResult",
]

PluginMode = Literal["mock", "proxy", "hybrid"]


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:30]
    return slug if slug and slug[0].isalpha() else f"api_{slug}".rstrip("_")


class ProxyOperations(OperationsBase):
    """Mock, proxy and hybrid plugins, record and replay, comparison, API tools."""

    # -- plugins ----------------------------------------------------------------------------

    @operation(group="proxy", long_running=True, tags=("adds_api_tools",))
    async def create_mcp_plugin(
        self,
        spec_url_or_path: str,
        mode: PluginMode = "mock",
        plugin_name: str | None = None,
        target_url: str | None = None,
        auth_config: AuthConfigJson | None = None,
        routing_rules: list[RoutingRuleJson] | None = None,
        proxy_config: ProxySettingsJson | None = None,
        business_port: int = 0,
        admin_port: int | None = None,
        auth_enabled: bool = False,
    ) -> McpPlugin:
        """Start a plugin for an API: a server in mock, proxy or hybrid mode, and its API tools.

        Mock mode answers from the description, proxy mode forwards every request to the live
        API at target_url (with the credentials of auth_config), hybrid mode routes by rules
        (highest priority match wins; unmatched requests go to default_mode, "mock" unless
        proxy_config says otherwise). The mode and rules change later with configure_proxy,
        without a restart. Each operation of the description becomes a tool (list_api_tools,
        call_api_tool). Secrets never appear in the result, the request log or the audit trail.

        Args:
            spec_url_or_path: the OpenAPI/Swagger description: a file path or an http(s) URL.
            mode: "mock", "proxy" or "hybrid".
            plugin_name: name to find the plugin by (letters, digits, _ or -); default from the
                API title. An existing plugin of that name is replaced.
            target_url: the live API's base URL (needed for proxy and hybrid), e.g.
                http://127.0.0.1:9000; request paths are appended to it as received.
            auth_config: upstream credentials: {"auth_type": ..., "credentials": {...}}; the
                credentials by type: api_key {api_key, name (default X-API-Key), location:
                header|query|cookie}; bearer_token {token}; basic {username, password};
                oauth2_client_credentials {token_url, client_id, client_secret, scope?};
                custom_headers {headers: {name: value}}.
            routing_rules: hybrid mode's rules: [{"pattern": "/api/critical/*", "mode": "proxy",
                "priority": 10, "methods": ["GET"], "headers": {...}, "query": {...}}]; the
                pattern is a glob (* spans /) or a regex starting with ^.
            proxy_config: more settings: default_mode, timeout_s, connect_timeout_s, retries,
                retry_backoff_s, retry_statuses, circuit_breaker {failure_threshold,
                reset_timeout_s}, fallback_to_mock, fallback_statuses.
            business_port: port of the plugin's API; 0 (default) picks a free port.
            admin_port: port of its admin API; default the port above the business port.
            auth_enabled: also simulate the description's security schemes when the mock
                answers (401 without credentials); off by default.
        """
        from mockloop.generate import generate_project
        from mockloop.proxy.plugins import check_plugin_name, load_plugin, save_plugin
        from mockloop.servers import start_server, stop_server

        settings = self._proxy_settings(mode, target_url, auth_config, routing_rules, proxy_config)
        await report_progress(0, 3, "loading the description")
        spec = await self._load_spec(spec_url_or_path)
        name = check_plugin_name(plugin_name or _slug(spec.title))
        try:
            previous = await self._in_thread(load_plugin, name)
        except ConfigError:
            previous = None
        if previous and previous.get("server_id"):
            # Replace the old plugin's server; one already gone leaves nothing to stop.
            with contextlib.suppress(MockLoopError):
                await self._in_thread(stop_server, previous["server_id"])
        await report_progress(1, 3, "writing the plugin project")
        project = await self._in_thread(
            generate_project,
            spec_url_or_path,
            output_dir_name=f"plugin-{name}",
            auth_enabled=auth_enabled,
            webhooks_enabled=False,
            admin_ui_enabled=True,
            storage_enabled=True,
            business_port=business_port or 8000,
            admin_port=admin_port,
            overwrite=True,
            proxy=settings,
        )
        await report_progress(2, 3, "starting the plugin server")
        server = await self._in_thread(
            start_server,
            project_path=Path(project.path),
            business_port=business_port,
            admin_port=admin_port,
            port_explicit=business_port != 0,
            admin_port_explicit=admin_port is not None,
            timeout=max(self.settings.timeout, 30.0),
        )
        parsed = parse_proxy_settings(settings)
        record = {
            "plugin_name": name,
            "spec": str(spec_url_or_path),
            "api_title": spec.title,
            "project_path": str(project.path),
            "server_id": server.id,
            "business_url": server.business_url,
            "admin_url": server.admin_url,
            "mode": parsed.mode,
            "target_url": public_url(parsed.target_url),
            "created_at": time.time(),
        }
        await self._in_thread(save_plugin, record)
        await report_progress(3, 3, f"plugin {name} serving on {server.business_url}")
        return McpPlugin(
            plugin_name=name,
            mode=parsed.mode,
            business_url=server.business_url,
            admin_url=server.admin_url or "",
            target_url=public_url(parsed.target_url),
            auth=parsed.auth.describe() if parsed.auth is not None else None,
            routing_rules=[r.model_dump(mode="json") for r in parsed.routing_rules],
            default_mode=parsed.default_mode,
            fallback_to_mock=parsed.fallback_to_mock,
            project_path=str(project.path),
            server_id=server.id,
            pid=server.pid,
            tools=[tool.name for tool in api_tools(spec, prefix=name)],
            notices=list(server.notices),
        )

    @staticmethod
    def _proxy_settings(
        mode: str | None,
        target_url: str | None,
        auth_config: dict[str, Any] | None,
        routing_rules: list[dict[str, Any]] | None,
        proxy_config: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if proxy_config is not None and not isinstance(proxy_config, dict):
            raise ConfigError("proxy_config must be an object, e.g. {'fallback_to_mock': true}")
        data: dict[str, Any] = dict(proxy_config or {})
        for key in ("mode", "target_url", "routing_rules", "auth"):
            if key in data:
                raise ConfigError(
                    f"proxy_config.{key}: give it as the {key if key != 'auth' else 'auth_config'} "
                    "argument instead"
                )
        if mode is not None:
            data["mode"] = mode
        if target_url is not None:
            data["target_url"] = target_url
        if routing_rules is not None:
            data["routing_rules"] = routing_rules
        auth = parse_auth(auth_config)
        if auth is not None:
            data["auth"] = auth.model_dump()
        parse_proxy_settings(data)  # ConfigError naming the field, before anything starts
        return data

    async def _resolve(
        self, plugin_name: str | None, server_url: str | None
    ) -> tuple[AdminTarget, str, dict[str, Any] | None]:
        """(admin target, business URL, plugin record) of a plugin or a server URL."""
        from mockloop.proxy.plugins import load_plugin

        record = None
        if plugin_name:
            record = await self._in_thread(load_plugin, plugin_name)
            server_url = server_url or record.get("business_url")
        if not server_url:
            raise ConfigError(
                "name the server: plugin_name (from create_mcp_plugin) or server_url (a running "
                "MockLoop mock's business or admin URL)"
            )
        target = await self.services.admin.target(server_url)
        business = target.business_url or (record or {}).get("business_url")
        if not business:
            raise ServerError(f"the mock at {server_url} does not report its business URL")
        return target, normalise_url(business), record

    async def _status(self, target: AdminTarget, server_url: str) -> ProxyStatus:
        data = await self.services.admin.call(target, "GET", "/api/proxy")
        return status_result(data, server_url, target.admin_url)

    @operation(group="proxy")
    async def configure_proxy(
        self,
        plugin_name: str | None = None,
        server_url: str | None = None,
        mode: Literal["mock", "proxy", "hybrid", "replay"] | None = None,
        routing_rules: list[RoutingRuleJson] | None = None,
        target_url: str | None = None,
        auth_config: AuthConfigJson | None = None,
        proxy_config: ProxySettingsJson | None = None,
    ) -> ProxyStatus:
        """Change a running plugin's or mock's mode, routing rules or upstream, without restart.

        The change takes effect on the next request; requests in flight finish under the old
        settings. Only the arguments given change. A pure mock becomes a proxy when given a
        target_url and mode.

        Args:
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
            mode: "mock", "proxy", "hybrid", or "replay" (serve a recording; set
                proxy_config.replay_scenario or stop a recording with replay=True).
            routing_rules: the new rules (replacing the old ones): [{"pattern", "mode",
                "priority", "methods", "headers", "query"}].
            target_url: the live API's base URL.
            auth_config: new upstream credentials (see create_mcp_plugin).
            proxy_config: other settings: default_mode, timeout_s, retries, circuit_breaker,
                fallback_to_mock, fallback_statuses, replay_scenario, ...
        """
        target, business, _ = await self._resolve(plugin_name, server_url)
        changes: dict[str, Any] = dict(proxy_config or {})
        if mode is not None:
            changes["mode"] = mode
        if routing_rules is not None:
            changes["routing_rules"] = routing_rules
        if target_url is not None:
            changes["target_url"] = target_url
        if auth_config is not None:
            auth = parse_auth(auth_config)
            changes["auth"] = auth.model_dump() if auth is not None else None
        if not changes:
            raise ConfigError(
                "configure_proxy changes nothing: give mode, routing_rules, target_url, "
                "auth_config or proxy_config"
            )
        data = await self.services.admin.call(target, "PUT", "/api/proxy", json=changes)
        return status_result(data, business, target.admin_url)

    @operation(group="proxy", read_only=True)
    async def get_proxy_status(
        self, plugin_name: str | None = None, server_url: str | None = None
    ) -> ProxyStatus:
        """Show a plugin's mode, routing rules, upstream auth (no secrets), circuit and counts.

        Args:
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
        """
        target, business, _ = await self._resolve(plugin_name, server_url)
        return await self._status(target, business)

    @operation(group="proxy")
    async def start_recording(
        self,
        scenario_name: str,
        plugin_name: str | None = None,
        server_url: str | None = None,
    ) -> RecordingResult:
        """Start capturing the live API's answers (secrets stripped) into a scenario.

        Every request answered by the live API from now on (proxy mode, or hybrid rules that
        proxy) is kept; stop_recording saves them as a normal scenario for replay.

        Args:
            scenario_name: the scenario to record into (replaced when it exists).
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
        """
        target, business, _ = await self._resolve(plugin_name, server_url)
        data = await self.services.admin.call(
            target, "POST", "/api/proxy/record/start", json={"scenario_name": scenario_name}
        )
        status = status_result(data, business, target.admin_url)
        return RecordingResult(
            server_url=business,
            action="started",
            scenario=scenario_name,
            exchanges=0,
            replaying=False,
            status=status,
        )

    @operation(group="proxy")
    async def stop_recording(
        self,
        plugin_name: str | None = None,
        server_url: str | None = None,
        replay: bool = False,
    ) -> RecordingResult:
        """Stop the recording and save it as a scenario; optionally replay it from now on.

        Replay mode answers each request with the recorded answer to the same method, path
        and query (in recorded order when repeated), then from the scenario's per-operation
        rules, with the live API not needed at all.

        Args:
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
            replay: switch to replay mode on the saved recording.
        """
        target, business, _ = await self._resolve(plugin_name, server_url)
        data = await self.services.admin.call(
            target, "POST", "/api/proxy/record/stop", json={"replay": replay}
        )
        status = status_result({"enabled": True, **data["status"]}, business, target.admin_url)
        return RecordingResult(
            server_url=business,
            action="stopped",
            scenario=data["scenario"],
            exchanges=data["exchanges"],
            operations=data["operations"],
            replaying=status.mode == "replay",
            status=status,
        )

    # -- comparison -------------------------------------------------------------------------

    @operation(group="proxy", read_only=True, long_running=True)
    async def compare_mock_and_live(
        self,
        spec_url_or_path: str | None = None,
        target_url: str | None = None,
        plugin_name: str | None = None,
        server_url: str | None = None,
        auth_config: AuthConfigJson | None = None,
        operations: list[str] | None = None,
        methods: list[str] | None = None,
        requests: list[ComparisonRequestJson] | None = None,
        ignore_paths: list[str] | None = None,
    ) -> ComparisonReport:
        """Send the same requests to the mock and to the live API and report where they drift.

        Per operation: both statuses and whether they agree, whether each body conforms to
        the description's response schema (with the violations), structural differences
        (keys on one side only, other JSON types) and value differences, minus ignore_paths.
        The mock side is the plugin or server (answering as a mock), or an in-process mock of
        spec_url_or_path; the live side is target_url (with auth_config) or the plugin's own
        live API (with its configured credentials).

        Args:
            spec_url_or_path: the description (default: the plugin's or server's own).
            target_url: the live API's base URL (default: the plugin's or server's target).
            plugin_name: a plugin from create_mcp_plugin to compare through.
            server_url: a running MockLoop mock (business or admin URL) to compare through.
            auth_config: credentials for target_url (see create_mcp_plugin).
            operations: operationIds to compare (any method); default every GET operation.
            methods: HTTP methods compared when operations is not given (default ["GET"];
                adding POST, PUT or DELETE changes data on the live API).
            requests: explicit requests: [{"operation_id": "getPet", "arguments": {"petId":
                1}}] (arguments as list_api_tools describes them).
            ignore_paths: body paths to leave out: "$.id", "$[*].created_at", or a bare field
                name like "created_at" (any depth).
        """
        from mockloop.proxy.auth import UpstreamAuth

        business: str | None = None
        if plugin_name or server_url:
            target, business, record = await self._resolve(plugin_name, server_url)
            status = await self._status(target, business)
            if spec_url_or_path is None:
                spec_url_or_path = (record or {}).get("spec")
            if spec_url_or_path is None:
                spec_url_or_path = f"{business}/openapi.json"
            if target_url is None and not status.target_url:
                raise ConfigError(
                    f"{business} has no live API configured: give target_url, or configure "
                    "the plugin's target_url with configure_proxy"
                )
        elif spec_url_or_path is None or target_url is None:
            raise ConfigError(
                "compare_mock_and_live needs plugin_name or server_url, or both "
                "spec_url_or_path and target_url"
            )
        spec: ApiSpec = await self._load_spec(spec_url_or_path)
        planned, skipped = plan_requests(
            spec, operations=operations, methods=methods, requests=requests
        )
        if not planned:
            raise ConfigError(
                f"no request to compare: {spec.title} has no operation with methods "
                f"{methods or ['GET']}; pass operations or requests"
            )
        auth = parse_auth(auth_config)
        upstream_auth = UpstreamAuth(auth) if auth is not None else None
        timeout = httpx.Timeout(self.settings.timeout)
        async with httpx.AsyncClient(trust_env=False, timeout=timeout) as http:
            runtime = local = None
            if business is not None:
                mock_send = http_sender(http, business, {"x-mockloop-mode": "mock"}, None)
                mock_where = business
            else:
                runtime, transport = await self._in_process_mock(spec_url_or_path)
                local = httpx.AsyncClient(transport=transport, base_url="http://mock.local")
                mock_send = http_sender(local, "http://mock.local", {}, None)
                mock_where = "an in-process mock of the description"
            if target_url is not None:
                live_base = normalise_url(target_url, "target_url")
                live_send = http_sender(http, live_base, {}, upstream_auth)
                live_where = public_url(live_base) or live_base
            else:
                assert business is not None
                live_send = http_sender(http, business, {"x-mockloop-mode": "proxy"}, None)
                live_where = f"the live API behind {business}"
            try:
                results = await compare_requests(
                    spec,
                    planned,
                    mock_send,
                    live_send,
                    ignore_paths=ignore_paths,
                    on_progress=report_progress,
                )
            finally:
                if local is not None:
                    await local.aclose()
                if runtime is not None:
                    await self._in_thread(runtime.stop)
        compared = len(results)
        agree = sum(1 for r in results if r.status_agrees)
        return ComparisonReport(
            mock=mock_where,
            live=live_where,
            compared=compared,
            status_agreement=round(agree / compared, 4) if compared else 0.0,
            matches=sum(1 for r in results if r.verdict == "match"),
            value_drift=sum(1 for r in results if r.verdict == "value_drift"),
            drift=sum(1 for r in results if r.verdict == "drift"),
            errors=sum(1 for r in results if r.verdict == "error"),
            mock_nonconforming=sum(1 for r in results if r.mock_conforms is False),
            live_nonconforming=sum(1 for r in results if r.live_conforms is False),
            ignore_paths=list(ignore_paths or []),
            operations=results,
            requests=planned,
            skipped=skipped,
        )

    async def _in_process_mock(self, spec: str) -> tuple[Any, httpx.ASGITransport]:
        from mockloop.mock.business import BusinessApp
        from mockloop.mock.config import MockConfig
        from mockloop.mock.runtime import MockRuntime

        config = MockConfig.build(
            spec=spec,
            port=0,
            auth=False,
            validation="off",
            storage=False,
            log_requests=False,
            webhooks=False,
        )
        runtime = await self._in_thread(MockRuntime, config)
        await self._in_thread(runtime.start)
        return runtime, httpx.ASGITransport(app=BusinessApp(runtime))

    # -- the API as tools -------------------------------------------------------------------

    async def _plugin_tools(
        self, plugin_name: str | None, server_url: str | None
    ) -> tuple[list[ApiTool], ApiSpec, str]:
        """The API tools of a plugin or server, its description and its business URL."""
        _, business, record = await self._resolve(plugin_name, server_url)
        source = (record or {}).get("spec") or f"{business}/openapi.json"
        spec = await self._load_spec(source)
        return api_tools(spec, prefix=plugin_name or ""), spec, business

    @operation(group="proxy", read_only=True)
    async def list_api_tools(
        self, plugin_name: str | None = None, server_url: str | None = None
    ) -> ApiToolList:
        """List the API's operations as tools: name, description and JSON schema of arguments.

        Tool names come from operationIds (prefixed with the plugin name for a plugin);
        arguments are the operation's parameters by name plus "body" for the request body.

        Args:
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
        """
        tools, spec, business = await self._plugin_tools(plugin_name, server_url)
        return ApiToolList(
            plugin_name=plugin_name,
            server_url=business,
            api_title=spec.title,
            tools=[tool.describe() for tool in tools],
        )

    @operation(group="proxy")
    async def call_api_tool(
        self,
        tool_name: str,
        arguments: dict[str, Any] | None = None,
        plugin_name: str | None = None,
        server_url: str | None = None,
    ) -> ApiCallResult:
        """Call one of the API's operations through a plugin; its mode decides who answers.

        Args:
            tool_name: the tool's name from list_api_tools, or the operationId.
            arguments: the operation's parameters by name, and "body" for the request body.
            plugin_name: the plugin (from create_mcp_plugin); or give server_url.
            server_url: a running MockLoop mock's business or admin URL.
        """
        tools, spec, business = await self._plugin_tools(plugin_name, server_url)
        tool = next(
            (t for t in tools if tool_name in (t.name, t.operation_id)),
            None,
        )
        if tool is None:
            known = ", ".join(t.name for t in tools[:15])
            raise ConfigError(f"unknown tool {tool_name!r} for {spec.title}; tools: {known}")
        request = tool.request(arguments, spec.base_path)
        # The client's shared pool: a plugin's business port gets no credential from it.
        side = await http_sender(self.services.http.client(), business, {}, None)(request)
        if side.status is None:
            raise ServerError(f"{tool.method} {business}{request.path} failed: {side.error}")
        return ApiCallResult(
            tool=tool.name,
            operation_id=tool.operation_id,
            method=tool.method,
            url=f"{business}{request.path}",
            status=side.status,
            ok=side.status < 400,
            mode=side.mode or "mock",
            headers={"content-type": side.content_type} if side.content_type else {},
            body=side.body,
            latency_ms=round(side.latency_ms, 3),
        )
