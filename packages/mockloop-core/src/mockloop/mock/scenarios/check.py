"""Field-by-field validation of a scenario, and the check of its rules against a description.

Every finding names where it is, as a path into the scenario (`rules[2].delay.mean_ms`), says
what is wrong and how to fix it, and is an error (the scenario is invalid) or a warning (valid,
but probably not what was meant). Nothing here raises for an invalid scenario; only input that
is no scenario at all (a number, unparsable text) is a `ConfigError`.

Strict validation is the published format (docs/scenario.schema.json): exact JSON types and no
unknown fields. Without it, values pydantic can convert ("200" for 200) and unknown top-level
keys are accepted with a warning; unknown keys inside rules stay errors either way, because the
mock refuses them and a misspelt rule field would silently change what is served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from mockloop.errors import ConfigError
from mockloop.mock.scenarios.endpoints import (
    RuleMatch,
    check_against_description,
    did_you_mean,
    response_for,
)
from mockloop.mock.scenarios.original import (
    TestParameters,
    ValidationRule,
    normalise_original_shape,
    original_location,
    resolve_concrete_paths,
)
from mockloop.mock.scenarios.rules import Delay, ResponseSpec, Scenario, ScenarioRule
from mockloop.mock.scenarios.schema import SCENARIO_CORE_KEYS, SCENARIO_METADATA_KEYS
from mockloop.mock.scenarios.templates import has_templates, template_problems
from mockloop.spec.model import Operation

__all__ = [
    "RuleMatch",
    "ScenarioCheck",
    "ScenarioProblem",
    "as_scenario_data",
    "check_scenario",
    "deployable_form",
    "format_location",
    "response_for",
]

Severity = Literal["error", "warning"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_DELAY_NEEDS = {
    "fixed": ("ms",),
    "uniform": ("min_ms", "max_ms"),
    "normal": ("mean_ms", "stddev_ms"),
    "exponential": ("mean_ms",),
}


class ScenarioProblem(BaseModel):
    """One finding: where it is, what is wrong, and whether it makes the scenario invalid."""

    location: str = Field(description='a path into the scenario: "rules[2].delay.mean_ms"')
    message: str
    severity: Severity

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class ScenarioCheck:
    """The outcome of `check_scenario`."""

    problems: list[ScenarioProblem] = field(default_factory=list)
    warnings: list[ScenarioProblem] = field(default_factory=list)
    scenario: Scenario | None = None
    normalised: dict[str, Any] | None = None
    matches: list[RuleMatch] = field(default_factory=list)
    endpoints_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def add(self, location: str, message: str, severity: Severity = "error") -> None:
        target = self.problems if severity == "error" else self.warnings
        problem = ScenarioProblem(location=location, message=message, severity=severity)
        if all(str(p) != str(problem) for p in target):
            target.append(problem)


def format_location(parts: Iterable[str | int]) -> str:
    """`("rules", 2, "delay", "mean_ms")` as `rules[2].delay.mean_ms`; `(root)` for none."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENT.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text or "(root)"


def as_scenario_data(config: Any) -> dict[str, Any]:
    """The scenario as a dict: from a dict, a pydantic model, or JSON/YAML text.

    ConfigError when the input cannot be a scenario at all (the only thing that raises).
    """
    if isinstance(config, BaseModel):
        config = config.model_dump(mode="json")
    if isinstance(config, str | bytes):
        text = config.decode("utf-8", "replace") if isinstance(config, bytes) else config
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"scenario_config is text but not valid JSON or YAML: {exc}; give a scenario "
                'object such as {"name": "slow_pets", "rules": [...]}'
            ) from None
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"scenario_config must be a JSON object (a dict) with name, description and rules, "
            f"got {type(config).__name__}; see docs/scenarios.md"
        )
    return dict(config)


def check_scenario(
    data: Mapping[str, Any],
    *,
    strict: bool = True,
    operations: Sequence[Operation] | None = None,
    api_title: str = "the description",
    document: Mapping[str, Any] | None = None,
) -> ScenarioCheck:
    """Validate a scenario field by field and, with `operations`, against a description
    (`document`, the description's normalised document, resolves `$ref`s of body schemas).

    The original MockLoop shape is normalised first; `notes` says what was rewritten, and
    problems in rules made from endpoints are located where the caller wrote them
    (`endpoints[0].response_config.status_code`).
    """
    check = ScenarioCheck()
    shape = normalise_original_shape(data, strict=strict)
    for location, message in shape.problems:
        check.add(location, message)
    check.notes.extend(shape.notes)
    if shape.from_endpoints and operations is not None:
        check.notes.extend(
            resolve_concrete_paths(shape.data["rules"], shape.origins, list(operations))
        )
    _check_core(shape.data, strict, operations, api_title, check, document)
    if shape.from_endpoints:
        for problem in [*check.problems, *check.warnings]:
            problem.location = original_location(problem.location, shape.origins)
    if check.scenario is not None:
        check.notes.extend(_kept_notes(check.scenario))
    return check


def _check_core(
    data: Mapping[str, Any],
    strict: bool,
    operations: Sequence[Operation] | None,
    api_title: str,
    check: ScenarioCheck,
    document: Mapping[str, Any] | None = None,
) -> None:
    core = _split_top_level(data, strict, check)
    name = core.get("name")
    if isinstance(name, str) and "/" in name:
        check.add(
            "name",
            f"{name!r} contains '/': the admin API addresses a scenario by its name in the URL "
            "path, so the mock could not find it; use another character",
        )
    _flag_internal_fields(core.get("rules"), check)
    strict_errors = _errors(core, strict=True)
    lax_errors = _errors(core, strict=False)
    lax_locs = {tuple(e["loc"]) for e in lax_errors}
    if strict:
        for error in strict_errors:
            hint = "" if tuple(error["loc"]) in lax_locs else _STRICT_HINT
            for loc, message in _translate(error):
                check.add(loc, message + hint)
    else:
        for error in lax_errors:
            for loc, message in _translate(error):
                check.add(loc, message)
        for error in strict_errors:
            if tuple(error["loc"]) not in lax_locs:
                loc = format_location(error["loc"])
                check.add(loc, _converted(error), "warning")
    if lax_errors:
        if operations is not None:
            _check_readable_rules(core.get("rules"), list(operations), api_title, check, document)
        return
    scenario = Scenario.model_validate(core)
    check.scenario = scenario
    normalised = scenario.model_dump(mode="json", exclude_unset=True)
    if "rules" in normalised:
        normalised["rules"] = [_selectors_first(rule) for rule in normalised["rules"]]
    check.normalised = normalised
    _lint(scenario, check)
    if operations is not None:
        check.endpoints_checked = True
        rules = list(enumerate(scenario.rules))
        check.matches = check_against_description(
            rules, list(operations), api_title, check.add, document
        )
    else:
        _shadowed_without_description(scenario, check)


def _check_readable_rules(
    rules: Any,
    operations: list[Operation],
    title: str,
    check: ScenarioCheck,
    document: Mapping[str, Any] | None = None,
) -> None:
    """The scenario does not parse as a whole: still check each rule that does against the
    description, so every problem is reported at once. Only errors: with rules missing, what
    shadows what is unknown."""
    if not isinstance(rules, list):
        return
    readable = []
    for index, rule in enumerate(rules):
        try:
            readable.append((index, ScenarioRule.model_validate(rule)))
        except ValidationError:
            continue

    def errors_only(location: str, message: str, severity: Severity) -> None:
        if severity == "error":
            check.add(location, message)

    check.endpoints_checked = True
    check.matches = check_against_description(readable, operations, title, errors_only, document)


def deployable_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario as the mock takes it: the original shape normalised into rules, and every
    key beside the scenario's fields moved under metadata (the mock refuses unknown top-level
    keys). No checks."""
    return _split_top_level(normalise_original_shape(data).data, False, ScenarioCheck())


def _kept_notes(scenario: Scenario) -> list[str]:
    """What test_parameters and validation_rules do once deployed (kept, acted upon or not)."""
    notes = []
    if scenario.test_parameters is not None:
        arguments = scenario.test_parameters.load_test_arguments()
        shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        notes.append(
            "test_parameters kept on the scenario, not acted upon by deploying (it runs no "
            f"load): run_load_test(server_url=..., scenario_name={scenario.name!r}"
            + (f", {shown}" if shown else "")
            + ") runs them"
        )
    for index, rule in enumerate(scenario.validation_rules):
        where = f"validation_rules[{index}] ({rule.describe()})"
        if rule.rule_type != "error_rate":
            notes.append(f"{where} kept: switch_scenario checks it on its verification request")
        elif rule.condition == "less_than":
            notes.append(
                f"{where} kept, not checked by switch_scenario (one request has no error "
                f"rate): pass thresholds={{'error_rate': {rule.expected_value!r}}} to "
                "run_load_test"
            )
        else:
            notes.append(
                f"{where} kept, not acted upon: one request has no error rate, and a load "
                "threshold is an upper bound (use condition less_than)"
            )
    return notes


def _selectors_first(rule: dict[str, Any]) -> dict[str, Any]:
    first = {key: rule[key] for key in ("operation", "method", "path") if key in rule}
    return {**first, **rule}


# -- the top level ----------------------------------------------------------------------------

_STRICT_HINT = " (strict validation wants the JSON type itself; strict_validation=False converts)"


def _split_top_level(data: Mapping[str, Any], strict: bool, check: ScenarioCheck) -> dict:
    """The model's fields, with metadata keys (and, unless strict, unknown keys) moved under
    `metadata`."""
    core: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    known = [*SCENARIO_CORE_KEYS, *SCENARIO_METADATA_KEYS]
    for key, value in data.items():
        if not isinstance(key, str):
            check.add("(root)", f"key {key!r} is not a string: JSON object keys are strings")
        elif key in SCENARIO_CORE_KEYS:
            core[key] = value
        elif key in SCENARIO_METADATA_KEYS or key.startswith("x-"):
            moved[key] = value
        else:
            guess = did_you_mean(key, known)
            fields = ", ".join(SCENARIO_CORE_KEYS)
            metadata = ", ".join(SCENARIO_METADATA_KEYS)
            if strict:
                check.add(
                    key,
                    f"unknown top-level field {key!r}{guess}: a scenario has {fields}; the "
                    f"metadata keys {metadata} and any x-* key are also accepted (put other "
                    "information under metadata, or validate with strict_validation=False)",
                )
            else:
                check.add(
                    key, f"unknown top-level field {key!r}{guess}: kept under metadata", "warning"
                )
            moved[key] = value
    if moved:
        explicit = core.get("metadata")
        if explicit is None:
            core["metadata"] = moved
        elif isinstance(explicit, Mapping):
            for key, value in moved.items():
                if key in explicit and explicit[key] != value:
                    check.add(
                        key,
                        f"{key!r} is given at the top level and in metadata with different "
                        f"values; metadata.{key} is kept",
                        "warning",
                    )
            core["metadata"] = {**moved, **explicit}
    return core


def _flag_internal_fields(rules: Any, check: ScenarioCheck) -> None:
    """`has_body` is the model's own bookkeeping, not part of the format."""
    if not isinstance(rules, list):
        return
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        entries = [(("rules", index), rule)]
        sequence = rule.get("sequence")
        if isinstance(sequence, list):
            entries += [
                (("rules", index, "sequence", j), step)
                for j, step in enumerate(sequence)
                if isinstance(step, Mapping)
            ]
        for parts, entry in entries:
            if "has_body" in entry:
                check.add(
                    format_location((*parts, "has_body")),
                    "unknown field 'has_body': give a body with 'body' (has_body is internal)",
                )


# -- pydantic's errors, located and explained ---------------------------------------------------


def _errors(core: dict[str, Any], *, strict: bool) -> list[Any]:
    try:
        Scenario.model_validate(core, strict=strict)
    except ValidationError as exc:
        return list(exc.errors())
    return []


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _fields_at(loc: Sequence[Any]) -> tuple[str, list[str]]:
    """What kind of object sits at `loc` and its fields."""
    if not loc:
        return "scenario", list(SCENARIO_CORE_KEYS)
    if loc[0] == "test_parameters":
        return "test_parameters object", list(TestParameters.model_fields)
    if loc[0] == "validation_rules":
        return "validation rule", list(ValidationRule.model_fields)
    if loc[-1] == "delay":
        return "delay", [f for f in Delay.model_fields]
    if len(loc) >= 4 and loc[-2] == "sequence":
        return "sequence entry", [f for f in ResponseSpec.model_fields if f != "has_body"]
    return "rule", [f for f in ScenarioRule.model_fields if f != "has_body"]


_ORIGINAL_SCHEME = (
    " (the original shape's endpoints[] take response_config {status_code, "
    "response_time_ms, response_data, headers}; a rule takes status, delay_ms, body, headers)"
)
_ORIGINAL_FIELDS = {
    name: _ORIGINAL_SCHEME
    for name in ("response_config", "status_code", "response_time_ms", "response_data")
}


def _translate(error: Any) -> list[tuple[str, str]]:
    loc = tuple(error["loc"])
    kind = error["type"]
    message = str(error["msg"])
    value = error.get("input")
    location = format_location(loc)
    if kind == "extra_forbidden":
        what, known = _fields_at(loc[:-1])
        name = str(loc[-1])
        hint = _ORIGINAL_FIELDS.get(name, "") if loc[0] == "rules" else ""
        return [
            (
                location,
                f"unknown field {name!r}{did_you_mean(name, known)}; a {what} has: "
                + ", ".join(known)
                + hint,
            )
        ]
    if kind == "missing":
        if loc == ("name",):
            return [
                (
                    location,
                    "required: a scenario needs a name (1 to 200 characters; scenario_name in "
                    "the original shape)",
                )
            ]
        return [(location, "required field missing")]
    if kind == "value_error":
        text = message.removeprefix("Value error, ")
        if loc and loc[-1] == "delay" and isinstance(value, Mapping):
            located = _delay_problems(loc, value)
            if located:
                return located
        return [(location, text)]
    return [(location, f"{message}; got {_show(value)}")]


def _delay_problems(loc: tuple[Any, ...], delay: Mapping[str, Any]) -> list[tuple[str, str]]:
    distribution = delay.get("distribution", "fixed")
    needed = _DELAY_NEEDS.get(distribution) if isinstance(distribution, str) else None
    if needed is None:
        return []
    found = [
        (
            format_location((*loc, name)),
            f"a {distribution} delay needs {name} (milliseconds); a {distribution} delay "
            f"takes {', '.join(needed)}",
        )
        for name in needed
        if delay.get(name) is None
    ]
    low, high = delay.get("min_ms"), delay.get("max_ms")
    if (
        distribution == "uniform"
        and isinstance(low, int | float)
        and isinstance(high, int | float)
        and low > high
    ):
        found.append(
            (
                format_location((*loc, "min_ms")),
                f"min_ms ({low}) must not exceed max_ms ({high})",
            )
        )
    return found


def _converted(error: Any) -> str:
    wanted = str(error["msg"]).removeprefix("Input should be ")
    return (
        f"{_show(error.get('input'))} was converted; the strict format wants {wanted} "
        "(strict_validation=True refuses it)"
    )


# -- lint: valid, but probably not what was meant -------------------------------------------------


def _lint(scenario: Scenario, check: ScenarioCheck) -> None:
    if not scenario.rules:
        check.add("rules", "the scenario has no rules: activating it changes nothing", "warning")
    for index, rule in enumerate(scenario.rules):
        where = ("rules", index)
        given = rule.model_fields_set
        if rule.sequence:
            for name in ("status", "body", "example", "generate", "headers"):
                if name in given:
                    check.add(
                        format_location((*where, name)),
                        f"ignored: with a sequence, each call is answered by its sequence entry; "
                        f"move {name} into the entries",
                        "warning",
                    )
            if rule.error_rate >= 1:
                check.add(
                    format_location((*where, "sequence")),
                    "never used: error_rate 1 answers every call with error_status",
                    "warning",
                )
        elif "sequence_end" in given:
            check.add(
                format_location((*where, "sequence_end")),
                "has no effect without a sequence",
                "warning",
            )
        if rule.error_rate == 0:
            for name in ("error_status", "error_body"):
                if name in given:
                    check.add(
                        format_location((*where, name)),
                        "has no effect while error_rate is 0; set error_rate (0 to 1)",
                        "warning",
                    )
        entries: list[tuple[tuple[Any, ...], ResponseSpec]] = [(where, rule)]
        entries += [((*where, "sequence", j), step) for j, step in enumerate(rule.sequence)]
        for parts, entry in entries:
            fields = entry.model_fields_set
            if not entry.template and _looks_templated(entry):
                check.add(
                    format_location((*parts, "template")),
                    "the body or a header holds {{ ... }} templates, served as written while "
                    "template is off; set template: true to render them from the request",
                    "warning",
                )
            if "delay" in fields and "delay_ms" in fields and entry.delay is not None:
                check.add(
                    format_location((*parts, "delay_ms")),
                    "ignored: delay wins over delay_ms; keep one",
                    "warning",
                )
            if entry.has_body:
                for name in ("example", "generate"):
                    if name in fields and getattr(entry, name):
                        check.add(
                            format_location((*parts, name)),
                            "ignored: an inline body is served as given",
                            "warning",
                        )


def _looks_templated(entry: ResponseSpec) -> bool:
    """Whether a body or header value would parse as templates (so was likely meant as one)."""
    values = [entry.body, *entry.headers.values()]
    return any(has_templates(value) and not template_problems(value, "") for value in values)


def _shadowed_without_description(scenario: Scenario, check: ScenarioCheck) -> None:
    """Without a description, only the sure cases: a catch-all rule, or the same selector twice."""
    seen: dict[tuple[str | None, str | None, str | None], int] = {}
    catch_all: int | None = None
    for index, rule in enumerate(scenario.rules):
        if catch_all is not None:
            check.add(
                f"rules[{index}]",
                f"never applies: rules[{catch_all}] selects every operation and the first "
                "matching rule wins",
                "warning",
            )
            continue
        if rule.when is not None:  # it lets other requests through to later rules
            continue
        key = (rule.operation, rule.method, rule.path)
        if key in seen:
            check.add(
                f"rules[{index}]",
                f"never applies: rules[{seen[key]}] has the same selector and comes first",
                "warning",
            )
        seen.setdefault(key, index)
        if rule.operation is None and rule.method is None and rule.path is None:
            catch_all = index
