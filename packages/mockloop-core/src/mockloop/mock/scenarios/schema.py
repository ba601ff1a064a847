"""The published JSON Schema of the scenario format, generated from the pydantic models.

`docs/scenario.schema.json` is this module's output; a test fails when the two drift. Regenerate
the file with:

    python -m mockloop.mock.scenarios.schema docs/scenario.schema.json

The schema describes the strict format (`validate_scenario_config(strict_validation=True)`):
exact JSON types, no unknown fields, and beside `name`, `description`, `rules` and `metadata`
only the documented metadata keys (`SCENARIO_METADATA_KEYS`) and `x-*` extension keys at the top
level. Cross-field rules the models check in code (a delay's distribution needs its parameters)
are expressed with `if`/`then`; `min_ms <= max_ms` cannot be, and is stated in words.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from mockloop.mock.scenarios.rules import Scenario

__all__ = [
    "SCENARIO_CORE_KEYS",
    "SCENARIO_METADATA_KEYS",
    "SCHEMA_REGEN_COMMAND",
    "render_scenario_schema",
    "scenario_json_schema",
]

SCHEMA_REGEN_COMMAND = (
    ".venv/bin/python -m mockloop.mock.scenarios.schema docs/scenario.schema.json"
)

SCENARIO_CORE_KEYS = ("name", "description", "rules", "metadata")

# Top-level keys that describe a scenario without changing how the mock answers. Generators
# (the prompts, the packs, agents) add them; they are kept under `metadata` when deployed.
SCENARIO_METADATA_KEYS: dict[str, str] = {
    "type": "the kind of scenario: load, error, security, functional, ...",
    "scenario_type": "the same, as some generators name it",
    "test_plan": "a test plan to run while the scenario is active (execute_test_plan)",
    "tags": "labels for finding the scenario",
    "version": "the scenario's own version",
    "source": "what produced it: a prompt, a pack, a person",
    "created_at": "when it was made",
    "expected_outcomes": "what a test run under the scenario should observe",
    "load_profile": "suggested load parameters (users, duration, rate)",
    "notes": "free text",
}

_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")

# Descriptions for fields the models leave undescribed (shown by editors using the schema).
_FIELD_DOCS: dict[str, dict[str, str]] = {
    "Scenario": {
        "name": "unique per mock, without '/'; the name deploy_scenario and switch_scenario use",
        "description": "what the scenario simulates, in words",
        "rules": "the first rule that selects an operation answers it",
        "metadata": "anything describing the scenario; the mock keeps it and ignores it",
    },
    "ResponseSpec": {
        "status": "the status to answer; the documented response of that status supplies "
        "body and headers",
        "body": "an inline body, served as given (JSON unless the response's media type is "
        "another)",
        "headers": "extra response headers",
        "delay_ms": "a fixed delay in milliseconds",
        "delay": "a delay drawn from a distribution (wins over delay_ms)",
    },
    "ScenarioRule": {
        "status": "the status to answer; the documented response of that status supplies "
        "body and headers",
        "body": "an inline body, served as given (JSON unless the response's media type is "
        "another)",
        "headers": "extra response headers",
        "delay_ms": "a fixed delay in milliseconds",
        "delay": "a delay drawn from a distribution (wins over delay_ms)",
        "method": "an HTTP method (any case); with path, or alone for every operation of "
        "that method",
        "error_rate": "share of calls (0 to 1) answered with error_status",
        "error_status": "the status of those errors",
        "error_body": "the body of those errors (default: the documented error response)",
        "sequence": "successive calls get successive responses",
        "sequence_end": "after the last response: cycle starts over, repeat_last stays on it",
    },
    "Delay": {
        "distribution": "fixed needs ms; uniform needs min_ms and max_ms (min_ms <= max_ms); "
        "normal needs mean_ms and stddev_ms; exponential needs mean_ms",
    },
}

_DELAY_NEEDS = {
    "fixed": ["ms"],
    "uniform": ["min_ms", "max_ms"],
    "normal": ["mean_ms", "stddev_ms"],
    "exponential": ["mean_ms"],
}


def _any_case(word: str) -> str:
    return "".join(f"[{ch.upper()}{ch.lower()}]" for ch in word)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a scenario in the strict format, built from the models."""
    schema = copy.deepcopy(Scenario.model_json_schema(mode="validation"))
    definitions: dict[str, Any] = schema.get("$defs", {})
    for name, definition in [("Scenario", schema), *definitions.items()]:
        properties: dict[str, Any] = definition.get("properties", {})
        properties.pop("has_body", None)  # internal: set by the model when a body is given
        for field_name, field_schema in properties.items():
            field_schema.pop("title", None)
            text = _FIELD_DOCS.get(name, {}).get(field_name)
            if text and "description" not in field_schema:
                field_schema["description"] = text
    # The admin API addresses a scenario by its name in the URL path.
    schema["properties"]["name"]["pattern"] = "^[^/]*$"
    rule = definitions["ScenarioRule"]["properties"]
    rule["method"] = {
        "anyOf": [
            {"type": "string", "pattern": "^(" + "|".join(_any_case(m) for m in _METHODS) + ")$"},
            {"type": "null"},
        ],
        "default": None,
        "description": _FIELD_DOCS["ScenarioRule"]["method"],
    }
    definitions["Delay"]["allOf"] = [
        {
            "if": {"properties": {"distribution": {"const": distribution}}},
            "then": {
                "required": needed,
                "properties": {name: {"type": "number"} for name in needed},
            },
        }
        for distribution, needed in _DELAY_NEEDS.items()
    ]
    metadata_properties = {
        key: {"description": f"metadata: {text}"} for key, text in SCENARIO_METADATA_KEYS.items()
    }
    ordered: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "MockLoop scenario",
        "description": (
            "A named set of rules that changes how a running MockLoop mock answers (see "
            "docs/scenarios.md). Generated from mockloop.mock.scenarios.rules; regenerate with: "
            f"{SCHEMA_REGEN_COMMAND}"
        ),
        "type": "object",
        "required": schema.get("required", ["name"]),
        "properties": {**schema["properties"], **metadata_properties},
        "patternProperties": {"^x-": {"description": "an extension key, kept under metadata"}},
        "additionalProperties": False,
        "$defs": definitions,
    }
    return ordered


def render_scenario_schema() -> str:
    """The schema as the published file holds it: indented JSON ending with a newline."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema to the path given (or print it); `--check` compares instead."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [arg for arg in args if arg != "--check"]
    text = render_scenario_schema()
    if not paths:
        sys.stdout.write(text)
        return 0
    path = Path(paths[0])
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            sys.stderr.write(f"{path} is out of date; regenerate it with: {SCHEMA_REGEN_COMMAND}\n")
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
