"""The MCP prompt messages of a result: the result as JSON, and what the host's model does next.

One user message: the task for the host's model, then the deterministic result as a JSON code
block (trimmed to a budget: plans and long rule lists go first, and the message says so), so
the model builds on computed facts instead of guessing them.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render_messages"]

_BUDGET = 50_000

_TASKS = {
    "analyze_openapi_for_testing": (
        "Here is MockLoop's analysis of an API description for testing: operations with risk "
        "and reasons, authentication coverage, data dependencies, deployable scenarios and a "
        "test plan. Review it, explain the main risks to the user, and propose the test "
        "strategy. To act, call deploy_scenario with a scenario (scenario_config) and "
        "execute_test_plan with its test_plan, or run_security_test with security_tests."
    ),
    "generate_scenario_config": (
        "Here are deployable MockLoop scenarios generated for an API, each with a test_plan. "
        "Check they fit the user's goal; deploy each with deploy_scenario(activate=True) and run "
        "its test_plan with execute_test_plan. Adjust rules (status, delay, error_rate, "
        "sequence) only within the documented scenario format."
    ),
    "optimize_scenario_for_load": (
        "Here is a load profile MockLoop computed for a scenario, with its reasoning. Explain "
        "it, adjust it to the user's constraints, then call run_load_test with these arguments "
        "(and scenario_name) and compare the result with the thresholds."
    ),
    "generate_error_scenarios": (
        "Here are MockLoop error scenarios for the user's endpoints (4xx, 5xx, timeouts, rate "
        "limits, malformed responses). Deploy them one at a time with deploy_scenario("
        "activate=True), run each test_plan with execute_test_plan, and check that the client "
        "under test handles each failure as the expected_outcomes say."
    ),
    "generate_security_test_scenarios": (
        "Here is MockLoop's selection of security probes for an API (run_security_test "
        "arguments, with the reason for each family) and mock scenarios that exercise a "
        "client's handling of authentication failures. Run run_security_test with these "
        "arguments plus server_url, deploy the scenarios to test the client side, and report "
        "findings by severity."
    ),
}


def _trimmed(data: dict[str, Any]) -> tuple[str, list[str]]:
    text = json.dumps(data, indent=1, default=str)
    cuts: list[str] = []
    if len(text) > _BUDGET and data.get("test_plan"):
        steps = len(data["test_plan"].get("steps", []))
        data["test_plan"] = {"name": data["test_plan"].get("name"), "steps": steps}
        cuts.append("the test_plan's steps (call the tool for them)")
        text = json.dumps(data, indent=1, default=str)
    if len(text) > _BUDGET:
        for scenario in data.get("scenarios", []):
            if isinstance(scenario.get("test_plan"), dict):
                scenario["test_plan"] = {"steps": len(scenario["test_plan"].get("steps", []))}
        cuts.append("the scenarios' test plans")
        text = json.dumps(data, indent=1, default=str)
    if len(text) > _BUDGET:
        for scenario in data.get("scenarios", []):
            rules = scenario.get("rules", [])
            if len(rules) > 3:
                scenario["rules"] = [*rules[:3], {"omitted_rules": len(rules) - 3}]
        cuts.append("rules beyond the third of each scenario")
        text = json.dumps(data, indent=1, default=str)
    if len(text) > _BUDGET:
        text = text[:_BUDGET] + "\n... (truncated)"
        cuts.append("the end of the result")
    return text, cuts


def render_messages(prompt: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """MCP prompt messages (role user, one text content) embedding `data` as JSON."""
    data = {k: v for k, v in data.items() if k not in ("messages",)}
    text, cuts = _trimmed(json.loads(json.dumps(data, default=str)))
    task = _TASKS.get(prompt, "Here is a MockLoop result to build on.")
    note = f"\n\nLeft out for length: {'; '.join(cuts)}." if cuts else ""
    body = f"{task}\n\nSummary: {data.get('summary', '')}{note}\n\n```json\n{text}\n```"
    return [{"role": "user", "content": {"type": "text", "text": body}}]
