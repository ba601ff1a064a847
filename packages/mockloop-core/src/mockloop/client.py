"""The public face of MockLoop: one method per operation.

`AsyncMockLoopClient` holds every operation as an async method (written once, in the modules
of `mockloop.operations`); `MockLoopClient` is its synchronous twin, generated from it by
`scripts/generate_sync_client.py` (a test fails when the two drift). The catalog
(`mockloop.catalog.get_catalog()`) is derived from the same methods.
"""

from __future__ import annotations

from types import TracebackType

from mockloop.operations.audit import AuditOperations
from mockloop.operations.load import LoadTestOperations
from mockloop.operations.mock_data import MockDataOperations
from mockloop.operations.mock_servers import MockServerOperations
from mockloop.operations.scenarios import ScenarioToolOperations
from mockloop.operations.security import SecurityOperations
from mockloop.operations.sessions import TestSessionOperations
from mockloop.operations.testing import TestPlanOperations

__all__ = ["AsyncMockLoopClient"]


class AsyncMockLoopClient(
    MockServerOperations,
    MockDataOperations,
    ScenarioToolOperations,
    TestPlanOperations,
    LoadTestOperations,
    SecurityOperations,
    TestSessionOperations,
    AuditOperations,
):
    """MockLoop's operations as async methods.

    Args:
        home: folder for MockLoop's state; default MOCKLOOP_HOME, else the user data folder.
        timeout: seconds an HTTP call to a mock may take; default MOCKLOOP_TIMEOUT or 30.
        admin_token: bearer token for admin APIs that require one; default MOCKLOOP_ADMIN_TOKEN.
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
        """Release the client's resources (it holds no connection between calls)."""
