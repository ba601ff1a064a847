"""What the plan library's operations return: a plan saved under a name, and the named plans."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mockloop.results import Result

__all__ = ["SavedTestPlan", "TestPlanList"]


class SavedTestPlan(Result):
    """A test plan stored under a name for execute_test_plan(test_plan=NAME)."""

    name: str
    path: str = Field(description="the plan file")
    steps: int
    replaced: bool = Field(description="a plan of that name was replaced")

    def summary(self, limit: int = 600) -> str:
        verb = "replaced" if self.replaced else "saved"
        return f"test plan {self.name!r} {verb} ({self.steps} steps) at {self.path}"


class TestPlanList(Result):
    """The named test plans stored in MOCKLOOP_HOME/plans."""

    __test__ = False
    folder: str
    plans: list[dict[str, Any]] = Field(description="name, path, steps, description")

    def summary(self, limit: int = 600) -> str:
        names = ", ".join(p["name"] for p in self.plans) or "none"
        return f"{len(self.plans)} named test plan(s) in {self.folder}: {names}"[:limit]
