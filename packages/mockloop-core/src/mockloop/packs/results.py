"""The results of the pack operations: the list, one pack, and a pack applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from mockloop.results import Result

__all__ = ["PackApplication", "PackDetail", "PackFileReport", "PackSummary", "ScenarioPackList"]


class PackSummary(Result):
    """One pack as the list shows it."""

    uri: str = Field(description="scenario-pack://CATEGORY/NAME")
    name: str
    category: str
    title: str
    description: str
    version: int
    tags: list[str]
    scenarios: list[str] = Field(description="the names of its scenario templates")
    payload_lists: dict[str, int] = Field(description="payload list name -> number of payloads")
    has_load_profile: bool
    security_focus: list[str]
    origin: str = Field(description="builtin or user")
    path: str


class PackFileReport(Result):
    """A pack file that did not validate (not loaded)."""

    path: str
    problems: list[str]


class ScenarioPackList(Result):
    """Every scenario pack that loaded, and every user file that did not."""

    packs: list[PackSummary]
    invalid: list[PackFileReport] = Field(
        default_factory=list, description="pack files that did not validate, with the problems"
    )
    user_packs_dir: str | None = Field(default=None, description="where user packs are read")
    notes: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        by_category: dict[str, int] = {}
        for pack in self.packs:
            by_category[pack.category] = by_category.get(pack.category, 0) + 1
        parts = ", ".join(f"{count} {name}" for name, count in sorted(by_category.items()))
        text = f"{len(self.packs)} scenario pack(s): {parts}."
        if self.invalid:
            text += f" {len(self.invalid)} pack file(s) did not validate: " + "; ".join(
                f"{item.path}: {item.problems[0]}" for item in self.invalid[:3]
            )
        return text if len(text) <= limit else text[: limit - 3] + "..."


class PackDetail(Result):
    """One pack in full: its data (payloads, load profile) and its scenario templates."""

    uri: str
    origin: str
    path: str
    pack: dict[str, Any] = Field(description="the pack as its file defines it (validated)")

    def summary(self, limit: int = 600) -> str:
        scenarios = [s["name"] for s in self.pack.get("scenarios", [])]
        text = (
            f"{self.uri} ({self.pack.get('title')}): {len(scenarios)} scenario template(s): "
            f"{', '.join(scenarios)}."
        )
        return text if len(text) <= limit else text[: limit - 3] + "..."


class PackApplication(Result):
    """A pack made concrete for one description: its scenarios, validated, maybe deployed.

    Iterating the result yields the scenarios (`for scenario in applied: ...`); pydantic's own
    field iteration is replaced on purpose (`items()` and `keys()` give the fields).
    """

    pack_uri: str
    api: str = Field(description="the description's title and where it came from")
    scenarios: list[dict[str, Any]] = Field(
        description="deployable scenarios (docs/scenarios.md) with test_plan, tags, source"
    )
    deployed: list[str] = Field(default_factory=list, description="names deployed to the mock")
    activated: str | None = Field(default=None, description="the scenario made active, if any")
    server_url: str | None = None
    invalid: list[dict[str, Any]] = Field(
        default_factory=list, description="scenarios that did not validate (not returned)"
    )
    notes: list[str] = Field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)

    def summary(self, limit: int = 600) -> str:
        names = ", ".join(s["name"] for s in self.scenarios)
        text = f"{self.pack_uri} applied to {self.api}: {len(self.scenarios)} scenario(s) ({names})"
        if self.deployed:
            text += f"; deployed {len(self.deployed)} to {self.server_url}"
        if self.activated:
            text += f"; active: {self.activated}"
        text += "."
        if self.invalid:
            text += f" {len(self.invalid)} did not validate."
        return text if len(text) <= limit else text[: limit - 3] + "..."
