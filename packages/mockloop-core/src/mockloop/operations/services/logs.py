"""Reading a running mock's request log through its admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mockloop.errors import ConfigError
from mockloop.mock.request_log.results import MockLogsResult
from mockloop.operations.services.admin import AdminApi

__all__ = ["MAX_LOG_PAGE", "MockLogs"]

MAX_LOG_PAGE = 10_000


class MockLogs:
    """A mock's request log, as `query_mock_logs` and `run_test_iteration` read it.

    Args:
        admin: the admin APIs of mocks.
    """

    def __init__(self, admin: AdminApi) -> None:
        self.admin = admin

    async def query(
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
        """A page of the log, newest first, and the analysis of every matching record."""
        if not 1 <= limit <= MAX_LOG_PAGE:
            raise ConfigError(f"limit={limit} must be between 1 and {MAX_LOG_PAGE}")
        if offset < 0:
            raise ConfigError(f"offset={offset} must be 0 or more")
        target = await self.admin.target(server_url)
        filters: dict[str, Any] = {
            "method": method.upper() if method else None,
            "path": path_pattern or None,
            "time_from": _time_param(time_from, "time_from"),
            "time_to": _time_param(time_to, "time_to"),
            "include_admin": include_admin,
        }
        params = {k: v for k, v in filters.items() if v is not None}
        page = await self.admin.call(
            target, "GET", "/api/logs/search", params={**params, "limit": limit, "offset": offset}
        )
        analysis = None
        if analyze:
            analysis = await self.admin.call(target, "GET", "/api/logs/analyze", params=params)
        return MockLogsResult(
            server_url=server_url,
            admin_url=target.admin_url,
            total=page["total"],
            count=len(page["records"]),
            limit=limit,
            offset=offset,
            filters=filters,
            records=page["records"],
            analysis=analysis,
        )


def _time_param(value: str | float | datetime | None, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return str(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(float(value))
    if isinstance(value, str):
        return value
    raise ConfigError(f"{name} must be epoch seconds, an ISO 8601 string or a datetime")
