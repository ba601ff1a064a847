"""What every group of client operations shares: settings, running blocking work in a thread
with the client's state folder, and talking to a running mock's admin API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from mockloop.errors import (
    ConfigError,
    MockLoopUserError,
    ScenarioError,
    ServerError,
    SpecError,
)
from mockloop.mock.admin_guard import ADMIN_MARKER_HEADER
from mockloop.settings import PROBE, ClientSettings, using_home
from mockloop.testing.runs import RunKind, TestRunStore
from mockloop.urls import normalise_url

if TYPE_CHECKING:
    from mockloop.spec import ApiSpec

__all__ = ["AdminTarget", "OperationsBase", "normalise_url"]

T = TypeVar("T")

_USER_ERRORS: dict[str, type[MockLoopUserError]] = {
    "ScenarioError": ScenarioError,
    "ConfigError": ConfigError,
    "SpecError": SpecError,
}


class AdminTarget:
    """A running mock as the client reaches it: its admin URL and, if known, business URL."""

    def __init__(self, admin_url: str, business_url: str | None, health: dict[str, Any]) -> None:
        self.admin_url = admin_url
        self.business_url = business_url
        self.health = health


class OperationsBase:
    """Settings and shared plumbing; operations live in the subclasses."""

    settings: ClientSettings

    def __init__(
        self,
        *,
        home: str | None = None,
        timeout: float | None = None,
        admin_token: str | None = None,
        llm: Any = None,
    ) -> None:
        self.settings = ClientSettings.from_env(home=home, timeout=timeout, admin_token=admin_token)
        # An optional model the prompts refine their deterministic results with.
        self.llm = llm
        # The test session opened by create_test_session and not yet ended: runs made by this
        # client land in it unless a call names another session.
        self.current_session_id: str | None = None

    async def _record_run(
        self,
        *,
        run_id: str,
        kind: RunKind,
        status: str,
        server_url: str,
        started_at: float,
        finished_at: float | None = None,
        summary: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        session_id: str | None = None,
        context_id: str | None = None,
    ) -> str | None:
        """Keep a testing run in `test_runs.db`; return the session it landed in (or None).

        The run lands in `session_id` when given, else in the client's open test session.
        """
        session = session_id or self.current_session_id
        with using_home(self.settings.home):
            store = TestRunStore()
        await self._in_thread(
            store.save,
            run_id=run_id,
            kind=kind,
            status=status,
            server_url=server_url,
            started_at=started_at,
            finished_at=finished_at,
            summary=summary,
            result=result,
            session_id=session,
            context_id=context_id,
        )
        return session

    async def _in_thread(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking work in a thread, with this client's state folder in force."""
        with using_home(self.settings.home):
            return await asyncio.to_thread(func, *args, **kwargs)

    async def _load_spec(self, source: Any) -> ApiSpec:
        """Load a description an agent or caller gave (path, URL, dict or text), bounded like
        every load, reaching the private hosts of this client's `allow_fetch` and, for a file,
        only its own folder."""
        from mockloop.spec import load_spec

        return await self._in_thread(load_spec, source, allow_fetch=list(self.settings.allow_fetch))

    def _http(self, timeout: float | None = None) -> httpx.AsyncClient:
        """An HTTP client without credentials: the admin token goes only with `_admin_call`,
        never to a URL that is merely probed or to a business port."""
        return httpx.AsyncClient(timeout=timeout or self.settings.timeout, trust_env=False)

    def _admin_headers(self) -> dict[str, str]:
        """What the admin API asks of a tool: the marker that lets a write without a JSON body
        through its cross-origin check, and the admin token when there is one."""
        headers = {ADMIN_MARKER_HEADER: "1"}
        if self.settings.admin_token:
            headers["Authorization"] = f"Bearer {self.settings.admin_token}"
        return headers

    async def _admin_target(self, server_url: str) -> AdminTarget:
        """Find the admin API of the mock at `server_url` (its business or its admin URL)."""
        url = normalise_url(server_url)
        async with self._http(timeout=min(self.settings.timeout, 10.0)) as http:
            try:
                response = await http.get(f"{url}/health", headers=PROBE)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise ServerError(
                    f"nothing answers on {url} ({type(exc).__name__}): is the mock running? "
                    "list_mock_servers() or discover_mock_servers() show what runs"
                ) from None
        health: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                body = response.json()
                health = body if isinstance(body, dict) else {}
            except ValueError:
                health = {}
        service = health.get("service")
        if service == "mockloop-admin":
            return AdminTarget(url, health.get("business_url"), health)
        if service == "mockloop":
            admin = health.get("admin_url")
            if not admin:
                raise ServerError(
                    f"the mock at {url} serves no admin port (it was started without one); "
                    "restart it with an admin port to manage it"
                )
            return AdminTarget(str(admin).rstrip("/"), url, health)
        registered = await self._registered_admin(url)
        if registered is not None:
            return registered
        raise ServerError(
            f"{url} answers, but not as a MockLoop mock (its /health says nothing of MockLoop); "
            "give the URL of a mock started by MockLoop"
        )

    async def _registered_admin(self, url: str) -> AdminTarget | None:
        """The registry's admin URL for a business URL whose own /health is the API's."""
        from mockloop.servers import list_servers

        for server in await self._in_thread(list_servers):
            if server.business_url.rstrip("/") == url and server.admin_url:
                return AdminTarget(server.admin_url.rstrip("/"), url, {})
        return None

    async def _activate_scenario(
        self, admin: AdminTarget, name: str, *, afresh: bool
    ) -> Callable[[], Awaitable[None]] | None:
        """Activate scenario `name` on a mock; return how to bring back the scenario active
        before (None when it already was `name`). `afresh` activates it again even then, which
        starts its sequences over."""
        active = await self._admin_call(admin, "GET", "/api/mock-data/scenarios/active")
        previous = active.get("active") if isinstance(active, dict) else None
        if previous != name or afresh:
            await self._admin_call(
                admin, "POST", f"/api/mock-data/scenarios/{quote(name, safe='')}/activate"
            )
        if previous == name:
            return None

        async def restore() -> None:
            if previous:
                path = f"/api/mock-data/scenarios/{quote(previous, safe='')}/activate"
                await self._admin_call(admin, "POST", path)
            else:
                await self._admin_call(admin, "POST", "/api/mock-data/scenarios/deactivate")

        return restore

    async def _admin_call(
        self,
        target: AdminTarget,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Call the admin API; its problem+json errors become MockLoop errors."""
        url = f"{target.admin_url}{path}"
        async with self._http() as http:
            try:
                response = await http.request(
                    method, url, json=json, params=params, headers=self._admin_headers()
                )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise ServerError(
                    f"{method} {url} failed ({type(exc).__name__}: {exc}); is the mock running?"
                ) from None
        if response.status_code < 400:
            return response.json() if response.content else None
        detail: Any = response.text
        title = ""
        try:
            problem = response.json()
            if isinstance(problem, dict):
                detail = problem.get("detail", detail)
                title = str(problem.get("title", ""))
        except ValueError:
            pass
        if response.status_code == 401:
            raise ConfigError(
                f"the admin API at {target.admin_url} needs a token: pass admin_token= to the "
                "client or set MOCKLOOP_ADMIN_TOKEN"
            )
        if isinstance(detail, list):  # FastAPI's validation errors
            detail = "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}"
                for item in detail
                if isinstance(item, dict)
            )
        if 400 <= response.status_code < 500:
            raise _USER_ERRORS.get(title, ConfigError)(str(detail))
        raise ServerError(f"{method} {url} answered {response.status_code}: {detail}")
