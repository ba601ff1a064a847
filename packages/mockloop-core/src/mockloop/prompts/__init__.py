"""The five prompts: deterministic analyses of a description, plus LLM-ready messages.

Modules by job: `risk` (risk per operation, auth coverage), `dependencies` (ids produced and
consumed, OpenAPI links), `builders` (scenarios by type, from the packs), `analysis`
(analyze_openapi_for_testing), `load_profile`, `error_scenarios`, `security_selection`,
`refine` (the optional model), `messages` (MCP prompt messages), `description` (reading
api_spec, a running mock's URL included). The operations are in `mockloop.operations.prompts`.
"""

from mockloop.prompts.models import (
    AuthCoverage,
    DataDependency,
    ErrorScenarioSet,
    LoadOptimization,
    OpenApiTestingAnalysis,
    OperationRisk,
    PromptResult,
    Refinement,
    ScenarioConfigSet,
    SecurityTestSelection,
)

__all__ = [
    "AuthCoverage",
    "DataDependency",
    "ErrorScenarioSet",
    "LoadOptimization",
    "OpenApiTestingAnalysis",
    "OperationRisk",
    "PromptResult",
    "Refinement",
    "ScenarioConfigSet",
    "SecurityTestSelection",
]
