"""Scenarios: named sets of per-operation rules that change how the mock answers at run time.

`rules` is the scenario model and the engine that applies it on the hot path; `check` and
`verify` test a scenario against the description and against a running mock, `results` holds
their reports, `schema` writes `docs/scenario.schema.json`, `original` normalises the original
MockLoop shape (scenario_name, endpoints with response_config) into rules. The admin routes are
`mockloop.mock.scenarios.endpoints`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.mock.scenarios.original import OriginalScenario as OriginalScenario
    from mockloop.mock.scenarios.original import TestParameters as TestParameters
    from mockloop.mock.scenarios.original import ValidationRule as ValidationRule
    from mockloop.mock.scenarios.rules import Delay as Delay
    from mockloop.mock.scenarios.rules import ResponseSpec as ResponseSpec
    from mockloop.mock.scenarios.rules import RuleEngine as RuleEngine
    from mockloop.mock.scenarios.rules import Scenario as Scenario
    from mockloop.mock.scenarios.rules import ScenarioRule as ScenarioRule
    from mockloop.mock.scenarios.rules import parse_rule as parse_rule
    from mockloop.mock.scenarios.rules import parse_scenario as parse_scenario

# The names `mockloop.mock.scenarios` held as one module before the split, loaded on first use.
__all__ = [
    "Delay",
    "OriginalScenario",
    "ResponseSpec",
    "RuleEngine",
    "Scenario",
    "ScenarioRule",
    "TestParameters",
    "ValidationRule",
    "parse_rule",
    "parse_scenario",
]


_ORIGINAL = {"OriginalScenario", "TestParameters", "ValidationRule"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "original" if name in _ORIGINAL else "rules"
    return getattr(import_module(f"mockloop.mock.scenarios.{module}"), name)
