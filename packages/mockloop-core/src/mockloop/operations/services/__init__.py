"""The client's services, built once per client: what its operations delegate to.

`ClientServices` is made in the client's `__init__` and closed by its `aclose`:

- `work`: blocking work in a thread, with the client's state folder in force;
- `http`: one keep-alive HTTP client per event loop the client runs on;
- `admin`: the admin APIs of running mocks (found once per server URL, problem+json mapped
  to MockLoop errors);
- `stores`: the stores of the client's state folder (test runs, sessions, schedules, load
  runs, contexts);
- `current` and `runs`: the open test session and the record of testing runs;
- `load`, `logs` and `scenarios`: capabilities more than one group of operations uses
  (running load, reading a mock's request log, deploying a scenario).

Operations never call each other: where one needs what another does, both call the service.
"""

from __future__ import annotations

from mockloop.operations.services.admin import AdminApi, AdminTarget
from mockloop.operations.services.http import SharedHttp
from mockloop.operations.services.load import LoadTests
from mockloop.operations.services.logs import MockLogs
from mockloop.operations.services.scenarios import ScenarioDeployer
from mockloop.operations.services.stores import ClientStores, CurrentSession, RunRecorder
from mockloop.operations.services.work import BlockingWork
from mockloop.settings import ClientSettings

__all__ = ["AdminTarget", "ClientServices"]


class ClientServices:
    """Everything one client's operations share, built once from its settings.

    Args:
        settings: the client's settings.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.work = BlockingWork(settings)
        self.http = SharedHttp(settings.timeout)
        self.admin = AdminApi(settings, self.http, self.work)
        self.stores = ClientStores(settings)
        self.current = CurrentSession()
        self.runs = RunRecorder(self.stores, self.current, self.work)
        self.load = LoadTests(self.admin, self.http, self.work, self.stores, self.runs)
        self.logs = MockLogs(self.admin)
        self.scenarios = ScenarioDeployer(settings, self.admin, self.http, self.work)

    async def aclose(self) -> None:
        """Close what the services opened: the HTTP clients and the context store."""
        try:
            await self.http.aclose()
        finally:
            self.stores.close()
