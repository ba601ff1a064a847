"""The published shapes of parameters that operations take as plain JSON.

Some operations hand a dict to a capability that parses it itself (with its own synonyms and
error texts). These models say what such a dict holds, for the schema an agent reads: the
operations annotate the parameter `Annotated[dict[str, Any], schema_of(Model)]`, so the
catalog publishes the model (fields, descriptions, one example) while validation and the
operation see the dict as given. Shapes whose parsing model lives in a capability room
(test plans, routing rules, schedules, security principals, load endpoints, thresholds,
scenarios) are published from there; these are the ones whose parsers take dicts.
"""

from __future__ import annotations

from mockloop.operations.parameters.descriptions import ApiInfo, ApiServer, OpenApiDocument
from mockloop.operations.parameters.load_profiles import (
    PerformanceRequirements,
    ScenarioTestParameters,
    TargetLoad,
)
from mockloop.operations.parameters.requests import (
    ComparisonRequest,
    EndpointSelector,
    ResponseOverride,
)
from mockloop.operations.parameters.results import TestRunResult

__all__ = [
    "ApiInfo",
    "ApiServer",
    "ComparisonRequest",
    "EndpointSelector",
    "OpenApiDocument",
    "PerformanceRequirements",
    "ResponseOverride",
    "ScenarioTestParameters",
    "TargetLoad",
    "TestRunResult",
]
