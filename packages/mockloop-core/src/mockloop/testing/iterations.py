"""A test iteration's result: a scenario under real traffic, its metrics and its request log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result

__all__ = ["TestIterationResult"]


class TestIterationResult(Result):
    """One test iteration: a scenario under real traffic, its metrics and its request log."""

    __test__ = False
    kind: Literal["iteration"] = "iteration"
    run_id: str
    server_url: str
    scenario_name: str
    status: str = Field(description="the load run's status: completed, stopped or failed")
    started_at: float
    finished_at: float
    duration_s: float
    load_run_id: str = Field(description="the load run that drove the traffic")
    metrics: dict[str, Any] = Field(
        description="as the client measured: requests, rps, error_rate, latency ms, statuses"
    )
    server_metrics: dict[str, Any] | None = Field(
        default=None, description="as the mock logged the window: requests, latency, statuses"
    )
    excerpt_in_scenario: int = Field(
        default=0, description="records of the log excerpt answered under the scenario"
    )
    log_total: int = Field(default=0, description="requests the mock logged in the window")
    log_records: list[dict[str, Any]] = Field(
        default_factory=list, description="the newest logged requests of the window"
    )
    analysis: dict[str, Any] | None = Field(default=None, description="the log analysis")
    warnings: list[str] = Field(default_factory=list)
    session_id: str | None = None
    context_id: str | None = None

    def summary(self, limit: int = 600) -> str:
        m = self.metrics
        text = (
            f"iteration of scenario {self.scenario_name!r} on {self.server_url}: {self.status}; "
            f"{m.get('requests', 0)} requests in {self.duration_s:.1f} s "
            f"({m.get('rps', 0):.1f}/s), error rate {m.get('error_rate', 0):.1%}, "
            f"p50 {m.get('p50_ms')} ms, p95 {m.get('p95_ms')} ms; the mock logged "
            f"{self.log_total} request(s) in the window ({self.excerpt_in_scenario} of the "
            f"{len(self.log_records)} newest under the scenario)."
        )
        return text if len(text) <= limit else text[: limit - 3] + "..."
