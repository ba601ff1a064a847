"""The shape of a test result handed back for analysis, comparison or a report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TestRunResult"]


class TestRunResult(BaseModel):
    """A result as run_load_test, execute_test_plan, run_test_iteration or run_security_test
    returned it, passed back whole; or a stored run's reference {"run_id": ...}.

    The kind is read from `kind` or from the fields only that kind has (a load run's
    achieved_rps and latency, a security test's findings, a plan's steps); a reference is
    fetched from the stored runs.
    """

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"run_id": "load-3f9c2a7d1b4e"}]}
    )

    run_id: str | None = Field(default=None, description="the run's id (enough on its own)")
    kind: Literal["load", "test_plan", "iteration", "security"] | None = Field(
        default=None, description="what produced the result"
    )
    status: str | None = Field(default=None, description="the run's status, e.g. passed")
    server_url: str | None = Field(default=None, description="the API the run was against")
    session_id: str | None = Field(default=None, description="the test session it landed in")
