"""What a client reads of a mock's request log: a page of records and their analysis."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mockloop.results import Result

__all__ = ["MockLogsResult"]


class MockLogsResult(Result):
    """Request log records of a mock and, when asked, their analysis."""

    server_url: str = Field(description="the URL the caller gave")
    admin_url: str = Field(description="the admin API the records came from")
    total: int = Field(description="records matching the filters, all pages")
    count: int = Field(description="records in this page")
    limit: int
    offset: int
    filters: dict[str, Any] = Field(description="the filters in force")
    records: list[dict[str, Any]] = Field(description="newest first")
    analysis: dict[str, Any] | None = Field(
        default=None,
        description="latency percentiles, error rates by status and operation, traffic "
        "pattern, session correlation and recommendations over every matching record",
    )
