"""The public face of MockLoop: one method per operation.

`AsyncMockLoopClient` holds every operation as an async method (written once, in the modules
of `mockloop.operations`); `MockLoopClient` is its synchronous twin, generated from it by
`scripts/generate_sync_client.py` (a test fails when the two drift). The catalog
(`mockloop.catalog.get_catalog()`) is derived from the same methods.
"""

from __future__ import annotations

from types import TracebackType

from mockloop.operations.analysis import AnalysisOperations
from mockloop.operations.audit import AuditOperations
from mockloop.operations.contexts import ContextOperations
from mockloop.operations.load import LoadTestOperations
from mockloop.operations.mock_data import MockDataOperations
from mockloop.operations.mock_servers import MockServerOperations
from mockloop.operations.packs import ScenarioPackOperations
from mockloop.operations.prompts import PromptOperations
from mockloop.operations.proxy import ProxyOperations
from mockloop.operations.reports import ReportOperations
from mockloop.operations.scenarios import ScenarioToolOperations
from mockloop.operations.security import SecurityOperations
from mockloop.operations.sessions import TestSessionOperations
from mockloop.operations.testing import TestPlanOperations

__all__ = ["AsyncMockLoopClient"]


class AsyncMockLoopClient(
    MockServerOperations,
    MockDataOperations,
    ScenarioToolOperations,
    PromptOperations,
    ScenarioPackOperations,
    TestPlanOperations,
    LoadTestOperations,
    SecurityOperations,
    TestSessionOperations,
    AnalysisOperations,
    ReportOperations,
    ContextOperations,
    AuditOperations,
    ProxyOperations,
):
    """MockLoop's operations as async methods.

    Args:
        home: folder for MockLoop's state; default MOCKLOOP_HOME, else the user data folder.
        timeout: seconds an HTTP call to a mock may take; default MOCKLOOP_TIMEOUT or 30.
        admin_token: bearer token for admin APIs that require one; default MOCKLOOP_ADMIN_TOKEN.
        llm: optional model the prompts refine their results with: a LangChain chat model or
            any callable taking a list of {"role", "content"} messages and returning text.
    """

    async def __aenter__(self) -> AsyncMockLoopClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the client's resources: schedules it runs stop here (they stay stored and
        show as orphaned, resumable by another client), and its HTTP connections and the
        context store it opened are closed (a later call opens them again)."""
        try:
            await self._stop_schedule_runners()
        finally:
            await self.services.aclose()
