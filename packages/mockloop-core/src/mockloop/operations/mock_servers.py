"""Operations that create, start, stop and find mock servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.progress import report_progress
from mockloop.servers.models import Discovery, GeneratedMock, MockServerList, ServerInfo

__all__ = [
    "DEFAULT_BUSINESS_PORT",
    "GeneratedMock",
    "MockServerList",
    "MockServerOperations",
]


class _DefaultPort(int):
    """A port the caller did not choose: when it is busy, the next free one is used."""

    def __repr__(self) -> str:
        return str(int(self))


DEFAULT_BUSINESS_PORT = _DefaultPort(8000)


def _explicit(port: int | None) -> bool:
    return port is not None and not isinstance(port, _DefaultPort)


def _check_port(value: int | None, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(
            f"{name}={value!r} must be a TCP port between 1 and 65535 (0: any free port)"
        )


def _ports_fit(server: ServerInfo, business_port: int, admin_port: int | None) -> bool:
    """Whether a running server serves on the ports the caller asked for (if they chose)."""
    if _explicit(business_port) and int(business_port) not in (0, server.business_port):
        return False
    return admin_port is None or admin_port in (0, server.admin_port)


class MockServerOperations(OperationsBase):
    """Generated projects and the detached mock server processes."""

    @operation(group="mock", long_running=True, roles=("api_testing",))
    async def generate_mock_api(
        self,
        spec_url_or_path: str,
        output_dir_name: str | None = None,
        auth_enabled: bool = True,
        webhooks_enabled: bool = True,
        admin_ui_enabled: bool = True,
        storage_enabled: bool = True,
        business_port: int = DEFAULT_BUSINESS_PORT,
        admin_port: int | None = None,
        start: bool = True,
        stateful: bool = False,
        overwrite: bool = False,
        allow_fetch: list[str] | None = None,
        refs_root: str | None = None,
    ) -> GeneratedMock:
        """Generate a runnable mock API project from an OpenAPI description and start it.

        Writes a standalone project (main.py over the MockLoop runtime, the description, a
        mockloop.yaml config, requirements.txt, Dockerfile, docker-compose.yml, Kubernetes
        manifests in k8s/) and, with
        start=True, starts it as a background process serving the API on business_port and
        the admin API and UI on admin_port. Returns the URLs, the project path and the pid.

        Args:
            spec_url_or_path: the OpenAPI/Swagger description: a file path or an http(s) URL (YAML
                or JSON); a running MockLoop mock's URL stands for the description it serves.
            output_dir_name: project folder: a name (created under MOCKLOOP_HOME/projects) or a path
                starting with /, ./ or ../; default: a name from the API title.
            auth_enabled: simulate the description's security schemes (401 without credentials).
            webhooks_enabled: serve /api/webhooks and fire webhooks on matching requests.
            admin_ui_enabled: serve the admin UI at the admin port's /.
            storage_enabled: keep the request log, scenarios and state on disk (False: a temporary
                folder removed when the mock stops).
            business_port: port of the mocked API; if left at its default 8000 and busy, the next
                free port is used.
            admin_port: port of the admin API and UI; default business_port + 1.
            start: start the mock as a detached background process.
            stateful: CRUD collections (POST creates, GET lists and fetches, DELETE removes).
            overwrite: replace the generated files of an existing folder MockLoop did not
                make. A folder MockLoop made before needs no overwrite: with the same inputs it
                is reused (and the mock MockLoop started from it, if still running), with other
                inputs its files are regenerated (and, with start, that mock restarted). A
                running server MockLoop did not start from the folder is never touched.
            allow_fetch: private hosts or CIDRs (e.g. intranet.example, 10.0.0.0/8) the
                description URL and its remote $refs may reach; default: the client's
                allow_fetch setting (MOCKLOOP_ALLOW_FETCH). Loopback is always allowed,
                link-local and cloud metadata addresses never.
            refs_root: folder the description's local $refs must stay inside; default: the
                description's own folder.
        """
        from mockloop.generate import generate_project
        from mockloop.servers import project_server, start_server, stop_server

        _check_port(business_port, "business_port")
        _check_port(admin_port, "admin_port")
        steps = 2 if start else 1
        await report_progress(0, steps, "loading the description and writing the project")
        text = spec_url_or_path.strip() if isinstance(spec_url_or_path, str) else ""
        if text.startswith(("http://", "https://")) and urlsplit(text).path in ("", "/"):
            # A running mock's URL stands for the description it serves (its /openapi.json).
            from mockloop.operations.services.work import load_any_description

            fetched = await self._in_thread(
                load_any_description, text, self._allow_fetch(allow_fetch)
            )
            spec_url_or_path = fetched.source or spec_url_or_path
        project = await self._in_thread(
            generate_project,
            spec_url_or_path,
            output_dir_name=output_dir_name,
            auth_enabled=auth_enabled,
            webhooks_enabled=webhooks_enabled,
            admin_ui_enabled=admin_ui_enabled,
            storage_enabled=storage_enabled,
            stateful=stateful,
            business_port=int(business_port),
            admin_port=admin_port,
            overwrite=overwrite,
            allow_fetch=self._allow_fetch(allow_fetch),
            refs_root=refs_root,
        )
        result: dict[str, Any] = {
            "project_name": project.name,
            "project_path": str(project.path),
            "files": project.files,
            "features": project.features,
            "started": False,
            "business_port": project.business_port,
            "admin_port": project.admin_port,
            "project_action": project.action,
        }
        await report_progress(1, steps, f"project {project.action}: {project.path}")
        # Only a server MockLoop started from this very folder is reused or restarted.
        running = await self._in_thread(project_server, Path(project.path))
        notices: list[str] = []
        if running is not None and start:
            if project.action == "reused" and _ports_fit(running, business_port, admin_port):
                await report_progress(2, steps, f"serving on {running.business_url}")
                return GeneratedMock(
                    **{
                        **result,
                        "started": True,
                        "reused_server": True,
                        "business_url": running.business_url,
                        "admin_url": running.admin_url,
                        "docs_url": running.docs_url,
                        "pid": running.pid,
                        "server_id": running.id,
                        "business_port": running.business_port,
                        "admin_port": running.admin_port,
                        "notices": [
                            f"the project is unchanged and the mock {running.id} started from it "
                            f"(pid {running.pid}) still runs: reused it"
                        ],
                    }
                )
            await self._in_thread(stop_server, running.id)
            self.services.admin.forget(running.business_url, running.admin_url)
            notices.append(
                f"stopped the mock {running.id} (pid {running.pid}) started from this project "
                f"before, to serve the project as {project.action} now"
            )
        elif running is not None and project.action != "reused":
            notices.append(
                f"the mock {running.id} (pid {running.pid}) started from this project before "
                "still serves the previous files: restart it (stop_mock_server, then "
                "start_mock_server with project_path) to serve the new ones"
            )
        result["notices"] = notices
        if start:
            await report_progress(1, steps, "starting the mock server")
            server = await self._in_thread(
                start_server,
                project_path=Path(project.path),
                business_port=int(business_port),
                admin_port=admin_port,
                port_explicit=_explicit(business_port),
                admin_port_explicit=_explicit(admin_port),
                timeout=max(self.settings.timeout, 30.0),
            )
            # A mock that ran on these ports before is not this one.
            self.services.admin.forget(server.business_url, server.admin_url)
            result.update(
                started=True,
                business_url=server.business_url,
                admin_url=server.admin_url,
                docs_url=server.docs_url,
                pid=server.pid,
                server_id=server.id,
                notices=notices + list(server.notices),
                business_port=_port_of(server.business_url),
                admin_port=_port_of(server.admin_url),
            )
            await report_progress(2, steps, f"serving on {server.business_url}")
        return GeneratedMock(**result)

    @operation(group="mock")
    async def start_mock_server(
        self,
        spec_url_or_path: str | None = None,
        project_path: str | None = None,
        business_port: int = DEFAULT_BUSINESS_PORT,
        admin_port: int | None = None,
        stateful: bool = False,
        auth_enabled: bool = True,
        allow_fetch: list[str] | None = None,
        refs_root: str | None = None,
        watch: bool = False,
        locale: str | None = None,
    ) -> ServerInfo:
        """Start a mock server as a detached background process and register it.

        Give either a description (served directly) or a generated project's folder. The
        process outlives the caller until stop_mock_server (or `mockloop stop`) stops it.

        Args:
            spec_url_or_path: an OpenAPI/Swagger description (file path or http(s) URL).
            project_path: a project folder written by generate_mock_api (instead of a description).
            business_port: port of the mocked API; if left at its default 8000 and busy, the next
                free port is used.
            admin_port: port of the admin API and UI; default business_port + 1.
            stateful: CRUD collections (only with spec_url_or_path; projects keep their config).
            auth_enabled: simulate security schemes (only with spec_url_or_path).
            allow_fetch: private hosts or CIDRs (e.g. intranet.example, 10.0.0.0/8) the
                description URL and its remote $refs may reach (only with spec_url_or_path);
                default: the client's allow_fetch setting (MOCKLOOP_ALLOW_FETCH). Loopback is
                always allowed, link-local and cloud metadata addresses never.
            refs_root: folder the description's local $refs must stay inside (only with
                spec_url_or_path); default: the description's own folder.
            watch: reload the description file (and every file it $refs) when it changes,
                without a restart; a bad edit keeps the last good version serving and is
                reported in /health (only with a local spec_url_or_path).
            locale: Faker locale of generated names, places and texts, e.g. de_DE (only with
                spec_url_or_path; default en_US).
        """
        from mockloop.servers import start_server

        if (spec_url_or_path is None) == (project_path is None):
            raise ConfigError(
                "start_mock_server needs exactly one of spec_url_or_path (a description) or "
                "project_path (a folder written by generate_mock_api)"
            )
        _check_port(business_port, "business_port")
        _check_port(admin_port, "admin_port")
        extra: list[str] = []
        if spec_url_or_path is not None:
            if stateful:
                extra.append("--stateful")
            if not auth_enabled:
                extra.append("--no-auth")
            if watch:
                if "://" in spec_url_or_path:
                    raise ConfigError(
                        "watch needs a description in a local file (a URL has no file to "
                        "watch): save it to a file and give its path"
                    )
                extra.append("--watch")
            if locale is not None:
                from mockloop.fake.pools import check_locale

                extra.extend(["--locale", check_locale(locale)])
        elif watch or locale is not None:
            raise ConfigError(
                "watch and locale apply to a description (spec_url_or_path); a project keeps "
                "its settings in its mockloop.yaml: set `watch: true` or `locale: de_DE` there"
            )
        started = await self._in_thread(
            start_server,
            spec=spec_url_or_path,
            project_path=Path(project_path) if project_path is not None else None,
            business_port=int(business_port),
            admin_port=admin_port,
            port_explicit=_explicit(business_port),
            admin_port_explicit=_explicit(admin_port),
            extra_args=extra,
            timeout=max(self.settings.timeout, 30.0),
            allow_fetch=self._allow_fetch(allow_fetch),
            refs_root=refs_root,
        )
        # A mock that ran on these ports before is not this one.
        self.services.admin.forget(started.business_url, started.admin_url)
        return started

    def _allow_fetch(self, given: list[str] | None) -> list[str]:
        """The fetch allow-list of a call: its own, else the client's setting."""
        return list(given) if given is not None else list(self.settings.allow_fetch)

    @operation(group="mock", destructive=True)
    async def stop_mock_server(self, server: str) -> ServerInfo:
        """Stop a mock server started by MockLoop (flushing its request log) and mark it stopped.

        Args:
            server: the server's registry id, pid, port, or business or admin URL.
        """
        from mockloop.servers import stop_server

        stopped = await self._in_thread(stop_server, server)
        # Another mock may take its ports next: what was found of this one no longer holds.
        self.services.admin.forget(stopped.business_url, stopped.admin_url)
        return stopped

    @operation(group="mock", read_only=True)
    async def list_mock_servers(self, include_stopped: bool = False) -> MockServerList:
        """List the mock servers MockLoop started, with their URLs and whether each still runs.

        A registered server whose process has died is reported as stale.

        Args:
            include_stopped: also servers stopped earlier (their history).
        """
        from mockloop.servers import list_servers

        servers = await self._in_thread(list_servers, include_stopped=include_stopped)
        return MockServerList(
            servers=servers,
            running=sum(1 for s in servers if s.status == "running"),
            stale=sum(1 for s in servers if s.status == "stale"),
        )

    @operation(group="mock", read_only=True)
    async def discover_mock_servers(
        self,
        ports: list[int] | None = None,
        check_health: bool = True,
        include_generated: bool = True,
    ) -> Discovery:
        """Find MockLoop servers on this machine, registered or not, and generated projects.

        Reports each server's business and admin URLs and health (dual-port or single-port),
        stale registry entries, and generated projects with whether they run.

        Args:
            ports: ports to scan on 127.0.0.1; default: registered ports plus common ones
                (8000-8010, 3000, 5000, 8080, 8888).
            check_health: ask each server's /health (otherwise only check processes and ports).
            include_generated: also list generated projects and whether they run.
        """
        from mockloop.servers import discover_servers

        for port in ports or ():
            _check_port(port, "ports[]")
        return await self._in_thread(
            discover_servers,
            ports=ports,
            check_health=check_health,
            include_generated=include_generated,
        )


def _port_of(url: str | None) -> int | None:
    if not url:
        return None
    from urllib.parse import urlsplit

    return urlsplit(url).port
