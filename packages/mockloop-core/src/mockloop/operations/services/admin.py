"""Talking to a running mock's admin API: finding it once per server, calling it, and turning
its problem+json answers into MockLoop errors."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mockloop.errors import ConfigError, MockLoopUserError, ScenarioError, ServerError, SpecError
from mockloop.mock.admin.guard import ADMIN_MARKER_HEADER
from mockloop.operations.services.http import SharedHttp
from mockloop.operations.services.work import BlockingWork
from mockloop.settings import PROBE, ClientSettings
from mockloop.urls import normalise_url

__all__ = ["AdminApi", "AdminTarget", "is_loopback_host"]

_USER_ERRORS: dict[str, type[MockLoopUserError]] = {
    "ScenarioError": ScenarioError,
    "ConfigError": ConfigError,
    "SpecError": SpecError,
}

#: Seconds a /health probe may take at most (the client's timeout when shorter).
PROBE_TIMEOUT = 10.0


class AdminTarget:
    """A running mock as the client reaches it: its admin URL and, if known, business URL.

    `probed_url` is the URL whose /health found it (None when built from known URLs); the
    admin API probes it again when the admin URL stops answering.
    """

    def __init__(
        self,
        admin_url: str,
        business_url: str | None,
        health: dict[str, Any],
        probed_url: str | None = None,
    ) -> None:
        self.admin_url = admin_url
        self.business_url = business_url
        self.health = health
        self.probed_url = probed_url

    @property
    def gets_token(self) -> bool:
        """Whether the admin token may go to `admin_url`: the host the caller named (or the
        registry gave), or loopback when that was loopback too. A /health answer naming an
        admin port on another host never collects the token."""
        if self.probed_url is None:
            return True
        named, admin = _host(self.probed_url), _host(self.admin_url)
        return named == admin or (is_loopback_host(named) and is_loopback_host(admin))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AdminApi:
    """The admin APIs of running mocks, as one client reaches them.

    A server URL (business or admin) is probed once (its /health) and the admin target it
    leads to is kept; a call whose admin URL no longer takes connections probes that URL again
    (a mock restarted elsewhere is found, a stopped one is reported as before).

    Args:
        settings: the client's settings (timeout, admin token).
        http: the client's connection pool.
        work: the client's blocking work (the registry is read in a thread).
    """

    def __init__(self, settings: ClientSettings, http: SharedHttp, work: BlockingWork) -> None:
        self.settings = settings
        self.http = http
        self.work = work
        self._targets: dict[str, AdminTarget] = {}
        self.probes = 0  # /health probes made to find admin targets

    def headers(self, token: bool = True) -> dict[str, str]:
        """What the admin API asks of a tool: the marker that lets a write without a JSON body
        through its cross-origin check, and the admin token when there is one (and `token`)."""
        headers = {ADMIN_MARKER_HEADER: "1"}
        if token and self.settings.admin_token:
            headers["Authorization"] = f"Bearer {self.settings.admin_token}"
        return headers

    def forget(self, *urls: str | None) -> None:
        """Drop what is known of the mocks at `urls` (after stopping one, for instance)."""
        gone = {normalise_url(url) for url in urls if url}
        for key, target in list(self._targets.items()):
            if key in gone or target.admin_url in gone or target.business_url in gone:
                self._targets.pop(key, None)

    async def target(self, server_url: str) -> AdminTarget:
        """Find the admin API of the mock at `server_url` (its business or its admin URL):
        probed on first use, then kept."""
        url = normalise_url(server_url)
        known = self._targets.get(url)
        if known is not None:
            return known
        found = await self._probe(url)
        self._targets[url] = found
        return found

    async def _probe(self, url: str) -> AdminTarget:
        self.probes += 1
        try:
            response = await self.http.client().get(
                f"{url}/health", headers=PROBE, timeout=min(self.settings.timeout, PROBE_TIMEOUT)
            )
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
            return AdminTarget(url, health.get("business_url"), health, url)
        if service == "mockloop":
            admin = health.get("admin_url")
            if not admin:
                raise ServerError(
                    f"the mock at {url} serves no admin port (it was started without one); "
                    "restart it with an admin port to manage it"
                )
            return AdminTarget(str(admin).rstrip("/"), url, health, url)
        registered = await self._registered(url)
        if registered is not None:
            return registered
        raise ServerError(
            f"{url} answers, but not as a MockLoop mock (its /health says nothing of MockLoop); "
            "give the URL of a mock started by MockLoop"
        )

    async def _registered(self, url: str) -> AdminTarget | None:
        """The registry's admin URL for a business URL whose own /health is the API's."""
        from mockloop.servers import list_servers

        for server in await self.work.run(list_servers):
            if server.business_url.rstrip("/") == url and server.admin_url:
                return AdminTarget(server.admin_url.rstrip("/"), url, {}, url)
        return None

    async def is_mock(self, url: str, timeout: float = 5.0) -> bool:
        """Whether a MockLoop mock (business or admin port) answers at `url`."""
        if normalise_url(url) in self._targets:
            return True
        try:
            response = await self.http.client().get(
                f"{url}/health", headers=PROBE, timeout=min(self.settings.timeout, timeout)
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(body, dict) and body.get("service") in ("mockloop", "mockloop-admin")

    async def call(
        self,
        target: AdminTarget,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Call the admin API; its problem+json errors become MockLoop errors."""
        try:
            response = await self._send(target, method, path, json, params)
        except httpx.ConnectError as exc:
            # Nothing was sent: find the mock again (its /health names its admin port now).
            moved = await self._refound(target)
            if moved is None:
                raise _failed(target, method, path, exc) from None
            # The caller's target follows the mock, so what it reports names the new port.
            target.admin_url, target.business_url = moved.admin_url, moved.business_url
            target.health = moved.health
            try:
                response = await self._send(target, method, path, json, params)
            except httpx.ConnectError as again:
                raise _failed(target, method, path, again) from None
        return self._answer(target, method, path, response)

    async def _send(
        self,
        target: AdminTarget,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
    ) -> httpx.Response:
        """One admin request; a refused connection is left to `call`, any other failure is a
        ServerError (and the target is probed again next time)."""
        try:
            return await self.http.client().request(
                method,
                f"{target.admin_url}{path}",
                json=json,
                params=params,
                headers=self.headers(token=target.gets_token),
            )
        except httpx.ConnectError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self.forget(target.probed_url)
            raise _failed(target, method, path, exc) from None

    async def _refound(self, target: AdminTarget) -> AdminTarget | None:
        """The target `target.probed_url` leads to now, when it is another admin URL; None when
        it leads to the same one (or was not probed). A mock no longer answering raises the
        probe's ServerError."""
        if target.probed_url is None:
            return None
        self.forget(target.probed_url, target.admin_url)
        found = await self.target(target.probed_url)
        return found if found.admin_url != target.admin_url else None

    def _answer(self, target: AdminTarget, method: str, path: str, response: httpx.Response) -> Any:
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
        url = f"{target.admin_url}{path}"
        raise ServerError(f"{method} {url} answered {response.status_code}: {detail}")

    async def activate_scenario(
        self, admin: AdminTarget, name: str, *, afresh: bool
    ) -> Callable[[], Awaitable[None]] | None:
        """Activate scenario `name` on a mock; return how to bring back the scenario active
        before (None when it already was `name`). `afresh` activates it again even then, which
        starts its sequences over."""
        active = await self.call(admin, "GET", "/api/mock-data/scenarios/active")
        previous = active.get("active") if isinstance(active, dict) else None
        if previous != name or afresh:
            await self.call(
                admin, "POST", f"/api/mock-data/scenarios/{quote(name, safe='')}/activate"
            )
        if previous == name:
            return None

        async def restore() -> None:
            if previous:
                path = f"/api/mock-data/scenarios/{quote(previous, safe='')}/activate"
                await self.call(admin, "POST", path)
            else:
                await self.call(admin, "POST", "/api/mock-data/scenarios/deactivate")

        return restore


def _failed(target: AdminTarget, method: str, path: str, exc: Exception) -> ServerError:
    return ServerError(
        f"{method} {target.admin_url}{path} failed ({type(exc).__name__}: {exc}); "
        "is the mock running?"
    )
