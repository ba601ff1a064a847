"""Parameter annotations: validated as the JSON the operation takes, published as a model.

Each alias is `Annotated[<what the operation accepts>, schema_of(<model>)]`: arguments are
validated and handed over exactly as before, and the tool schema shows the model.
"""

from __future__ import annotations

from typing import Annotated, Any

from mockloop.load.mix import LoadEndpoint
from mockloop.load.thresholds import LoadThresholds
from mockloop.mock.scenarios.schema import SCENARIO_CONFIG_MODELS
from mockloop.operation import schema_of
from mockloop.operations.parameters.descriptions import OpenApiDocument
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
from mockloop.proxy.settings import AuthConfig, ProxyOptions, RoutingRule
from mockloop.security.identities import SecurityAuth, SecurityPrincipal
from mockloop.testing.plans.model import TestPlan
from mockloop.testing.sessions.schedules import (
    NotificationConfig,
    ScheduleConfig,
    StoredSuite,
    TestSuite,
)

__all__ = [
    "ApiDocumentJson",
    "AuthConfigJson",
    "ComparisonRequestJson",
    "EndpointSelectorJson",
    "LoadEndpointJson",
    "NotificationConfigJson",
    "PerformanceRequirementsJson",
    "ProxySettingsJson",
    "ResponseData",
    "RoutingRuleJson",
    "RunResultJson",
    "ScenarioJson",
    "ScenarioTestParametersJson",
    "ScheduleConfigJson",
    "SecurityAuthJson",
    "TargetLoadJson",
    "TestPlanJson",
    "TestResults",
    "TestSuiteJson",
    "ThresholdsJson",
]

ApiDocumentJson = Annotated[dict[str, Any], schema_of(OpenApiDocument)]
AuthConfigJson = Annotated[dict[str, Any], schema_of(AuthConfig)]
ComparisonRequestJson = Annotated[dict[str, Any], schema_of(ComparisonRequest)]
EndpointSelectorJson = Annotated[dict[str, Any], schema_of(EndpointSelector)]
LoadEndpointJson = Annotated[dict[str, Any], schema_of(LoadEndpoint)]
NotificationConfigJson = Annotated[dict[str, Any], schema_of(NotificationConfig)]
PerformanceRequirementsJson = Annotated[dict[str, Any], schema_of(PerformanceRequirements)]
ProxySettingsJson = Annotated[dict[str, Any], schema_of(ProxyOptions)]
ResponseData = Annotated[Any, schema_of(ResponseOverride | Any)]
"""A response rule, or any other JSON value: the body itself."""
RoutingRuleJson = Annotated[dict[str, Any], schema_of(RoutingRule)]
RunResultJson = Annotated[dict[str, Any], schema_of(TestRunResult)]
ScenarioJson = Annotated[dict[str, Any], schema_of(SCENARIO_CONFIG_MODELS)]
"""A scenario of rules, or one in the original MockLoop shape (normalised into rules)."""
ScenarioTestParametersJson = Annotated[dict[str, Any], schema_of(ScenarioTestParameters)]
ScheduleConfigJson = Annotated[dict[str, Any], schema_of(ScheduleConfig)]
SecurityAuthJson = Annotated[dict[str, Any], schema_of(SecurityAuth | SecurityPrincipal)]
TargetLoadJson = Annotated[dict[str, Any], schema_of(TargetLoad)]
TestPlanJson = Annotated[dict[str, Any], schema_of(TestPlan)]
TestResults = Annotated[Any, schema_of(str | TestRunResult | list[str | TestRunResult])]
"""Results as the testing operations returned them (or their JSON text), run ids, or lists."""
TestSuiteJson = Annotated[dict[str, Any], schema_of(TestSuite | StoredSuite)]
ThresholdsJson = Annotated[dict[str, float], schema_of(LoadThresholds)]
