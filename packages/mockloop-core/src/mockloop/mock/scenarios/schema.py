"""The published JSON Schema of the scenario format, generated from the pydantic models.

`docs/scenario.schema.json` is this module's output; a test fails when the two drift. Regenerate
the file with:

    python -m mockloop.mock.scenarios.schema docs/scenario.schema.json

The schema describes the strict format (`validate_scenario_config(strict_validation=True)`) in
either shape: MockLoop's (`name`, `rules`, ...) or the original MockLoop shape (`scenario_name`,
`endpoints`, ...): exact JSON types, no unknown fields, and beside a shape's own fields only the
documented metadata keys (`SCENARIO_METADATA_KEYS`) and `x-*` extension keys at the top level.
Every field has a description and one example. Cross-field rules the models check in code (a
delay's distribution needs its parameters) are expressed with `if`/`then` where JSON Schema can;
`min_ms <= max_ms` and a validation rule's type/condition pairing are stated in words.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from mockloop.mock.scenarios.original import OriginalScenario
from mockloop.mock.scenarios.rules import Scenario

__all__ = [
    "SCENARIO_CONFIG_MODELS",
    "SCENARIO_CORE_KEYS",
    "SCENARIO_METADATA_KEYS",
    "SCHEMA_REGEN_COMMAND",
    "ScenarioDocument",
    "render_scenario_schema",
    "scenario_json_schema",
]

SCHEMA_REGEN_COMMAND = (
    ".venv/bin/python -m mockloop.mock.scenarios.schema docs/scenario.schema.json"
)

SCENARIO_CORE_KEYS = (
    "name",
    "description",
    "rules",
    "test_parameters",
    "validation_rules",
    "metadata",
)

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

# The JSON type and one example of each metadata key, for the schema.
_METADATA_SCHEMAS: dict[str, dict[str, Any]] = {
    "type": {"type": "string", "examples": ["error"]},
    "scenario_type": {"type": "string", "examples": ["error_simulation"]},
    "test_plan": {"type": "object", "examples": [{"steps": ["GET /pets/1"]}]},
    "tags": {"type": "array", "items": {"type": "string"}, "examples": [["payments", "5xx"]]},
    "version": {"type": "string", "examples": ["1.0"]},
    "source": {"type": "string", "examples": ["generate_error_scenarios"]},
    "created_at": {"type": "string", "examples": ["2025-01-31T12:00:00Z"]},
    "expected_outcomes": {
        "type": "array",
        "items": {"type": "string"},
        "examples": [["clients retry after Retry-After"]],
    },
    "load_profile": {"type": "object", "examples": [{"concurrent_users": 10, "duration": 60}]},
    "notes": {"type": "string", "examples": ["agreed with the payments team"]},
}


def _meta(key: str) -> Any:
    spec = _METADATA_SCHEMAS[key]
    return Field(
        default=None,
        description=f"metadata: {SCENARIO_METADATA_KEYS[key]}",
        examples=spec["examples"],
    )


class ScenarioDocument(Scenario):
    """A scenario as the scenario tools take it: MockLoop's format, plus the metadata keys and
    x-* keys at the top level that the tools move under metadata. For publishing its schema
    (a tool parameter); the mock itself takes `Scenario`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "patternProperties": {"^x-": {"description": "an extension key, kept under metadata"}}
        },
    )

    type: str | None = _meta("type")
    scenario_type: str | None = _meta("scenario_type")
    test_plan: dict[str, Any] | None = _meta("test_plan")
    tags: list[str] | None = _meta("tags")
    version: str | None = _meta("version")
    source: str | None = _meta("source")
    created_at: str | None = _meta("created_at")
    expected_outcomes: list[str] | None = _meta("expected_outcomes")
    load_profile: dict[str, Any] | None = _meta("load_profile")
    notes: str | None = _meta("notes")


# The models whose union is a scenario_config's schema (for `schema_of`): either shape.
SCENARIO_CONFIG_MODELS = ScenarioDocument | OriginalScenario

_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")

_DELAY_NEEDS = {
    "fixed": ["ms"],
    "uniform": ["min_ms", "max_ms"],
    "normal": ["mean_ms", "stddev_ms"],
    "exponential": ["mean_ms"],
}


def _any_case(word: str) -> str:
    return "".join(f"[{ch.upper()}{ch.lower()}]" for ch in word)


def _method_schema(description: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": "^(" + "|".join(_any_case(m) for m in _METHODS) + ")$"},
            {"type": "null"},
        ],
        "default": None,
        "description": description,
        "examples": ["POST"],
    }


def _top_level(definition: dict[str, Any]) -> None:
    """Allow the metadata keys and x-* keys beside a scenario's own fields, as the tools do."""
    definition["properties"] = {
        **definition["properties"],
        **{
            key: {"description": f"metadata: {text}", **_METADATA_SCHEMAS[key]}
            for key, text in SCENARIO_METADATA_KEYS.items()
            if key not in definition["properties"]
        },
    }
    definition["patternProperties"] = {
        "^x-": {"description": "an extension key, kept under metadata"}
    }
    definition["additionalProperties"] = False


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a scenario in the strict format, built from the models.

    Either shape: MockLoop's (`$defs/Scenario`: name, rules, ...) or the original MockLoop
    shape (`$defs/OriginalScenario`: scenario_name, endpoints, ...), which the tools normalise
    into rules. This is the schema of deploy_scenario's and validate_scenario_config's
    scenario_config.
    """
    mockloop = copy.deepcopy(Scenario.model_json_schema(mode="validation"))
    original = copy.deepcopy(OriginalScenario.model_json_schema(mode="validation"))
    definitions: dict[str, Any] = {
        **mockloop.pop("$defs", {}),
        **original.pop("$defs", {}),
        "Scenario": mockloop,
        "OriginalScenario": original,
    }
    for definition in definitions.values():
        definition.pop("title", None)
        for field_schema in definition.get("properties", {}).values():
            field_schema.pop("title", None)
    # The admin API addresses a scenario by its name in the URL path.
    mockloop["properties"]["name"]["pattern"] = "^[^/]*$"
    rule = definitions["ScenarioRule"]["properties"]
    rule["method"] = _method_schema(rule["method"]["description"])
    endpoint = definitions["OriginalEndpoint"]["properties"]
    endpoint["method"] = _method_schema(endpoint["method"]["description"])
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
    _top_level(mockloop)
    _top_level(original)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "MockLoop scenario",
        "description": (
            "A named set of rules that changes how a running MockLoop mock answers: MockLoop's "
            "format (name, description, rules, test_parameters, validation_rules, metadata) or "
            "the original MockLoop shape (scenario_name, scenario_type, endpoints with "
            "response_config, test_parameters, validation_rules), normalised into rules. "
            "Generated from mockloop.mock.scenarios.rules and .original; regenerate with: "
            f"{SCHEMA_REGEN_COMMAND}"
        ),
        "type": "object",
        "anyOf": [{"$ref": "#/$defs/Scenario"}, {"$ref": "#/$defs/OriginalScenario"}],
        "$defs": dict(sorted(definitions.items())),
    }


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
