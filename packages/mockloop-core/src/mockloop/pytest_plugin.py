"""pytest fixtures that serve a MockLoop mock for the duration of a test.

Installed with `mockloop` (entry point `pytest11`), so a user's own tests can do:

    import httpx
    import pytest

    @pytest.mark.mockloop(spec="openapi.yaml", auth=False)
    def test_my_client(mockloop_mock):
        client = MyApiClient(base_url=mockloop_mock.url)
        client.list_pets()
        assert [r["path"] for r in mockloop_mock.requests()] == ["/v1/pets"]

or, for several mocks or per-test options, the factory:

    def test_two_apis(mockloop_serve):
        pets = mockloop_serve("pets.yaml")
        users = mockloop_serve("users.yaml", stateful=True)

The description can also come from the ini option `mockloop_spec`. Options are those of
`mockloop.mock.MockConfig` (auth, validation, seed, stateful, scenarios_file, ...). Each mock
serves on free loopback ports with its data in the test's temporary folder, and is stopped
(its log flushed) when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockloop.mock import MockServer

__all__ = ["RunningMock", "mockloop_mock", "mockloop_serve"]


class RunningMock:
    """A mock served for one test: its URLs, request log and run-time controls."""

    def __init__(self, server: MockServer) -> None:
        self._server = server

    @property
    def url(self) -> str:
        """The business URL (the mocked API), e.g. http://127.0.0.1:54321."""
        return self._server.business_url

    business_url = url

    @property
    def admin_url(self) -> str:
        """The admin API's URL."""
        admin = self._server.admin_url
        assert admin is not None  # the plugin always serves an admin port
        return admin

    @property
    def runtime(self) -> Any:
        """The mock's `MockRuntime` (spec, rules, store) for advanced checks."""
        return self._server.runtime

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Logged requests, oldest first, after flushing the log.

        Filters are those of the store's log search: method, path_regex, status,
        operation_id, session_id, time_from, time_to.
        """
        runtime = self._server.runtime
        writer = runtime.log_writer
        if writer is not None:
            writer.flush(10.0)
        store = runtime.store
        if store is None:
            return []
        return store.search_logs(limit=10_000, newest_first=False, exclude_mode="admin", **filters)

    def analyze(self, **filters: Any) -> dict[str, Any]:
        """The log analysis (latency, errors, traffic, sessions, recommendations)."""
        from mockloop.mock.request_log.analysis import analyze_records

        documented = [op.operation_id for op in self._server.runtime.spec.operations]
        return analyze_records(self.requests(**filters), documented_operations=documented)

    def set_response(self, endpoint: str, rule: dict[str, Any]) -> None:
        """Override one operation's response (an operationId or 'METHOD /path/template')."""
        self._server.runtime.set_override(endpoint, rule)

    def use_scenario(self, scenario: dict[str, Any]) -> None:
        """Save a scenario (see docs/scenarios.md) and make it the active one."""
        runtime = self._server.runtime
        saved = runtime.save_scenario(scenario)
        runtime.activate_scenario(saved["name"])


def _serve(spec: str | Path | dict[str, Any], data_dir: Path, **options: Any) -> MockServer:
    from mockloop.mock import MockConfig, MockServer

    source: str | dict[str, Any] = spec if isinstance(spec, dict) else str(spec)
    config = MockConfig.build(
        spec=source,
        port=0,
        admin_port=0,
        data_dir=options.pop("data_dir", data_dir),
        **options,
    )
    return MockServer(config).start()


@pytest.fixture
def mockloop_serve(tmp_path: Path) -> Iterator[Callable[..., RunningMock]]:
    """A factory: `mockloop_serve(spec, **options)` serves a mock until the test ends."""
    servers: list[MockServer] = []

    def serve(spec: str | Path | dict[str, Any], **options: Any) -> RunningMock:
        data_dir = tmp_path / f"mockloop-{len(servers)}"
        server = _serve(spec, data_dir, **options)
        servers.append(server)
        return RunningMock(server)

    yield serve
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def mockloop_mock(
    request: pytest.FixtureRequest, mockloop_serve: Callable[..., RunningMock]
) -> RunningMock:
    """A mock from `@pytest.mark.mockloop(spec=..., **options)` or the `mockloop_spec` ini."""
    marker = request.node.get_closest_marker("mockloop")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        options.setdefault("spec", marker.args[0])
    spec = options.pop("spec", None) or request.config.getini("mockloop_spec")
    if not spec:
        pytest.fail(
            "mockloop_mock needs a description: mark the test with "
            "@pytest.mark.mockloop(spec='openapi.yaml') or set mockloop_spec in the pytest ini",
            pytrace=False,
        )
    if isinstance(spec, str) and not spec.startswith(("http://", "https://")):
        path = Path(spec)
        if not path.is_absolute():
            path = Path(str(request.config.rootpath)) / path
        spec = str(path)
    return mockloop_serve(spec, **options)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "mockloop_spec",
        "OpenAPI description served by the mockloop_mock fixture (path relative to rootdir)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockloop(spec, **options): the description and MockConfig options for mockloop_mock",
    )
