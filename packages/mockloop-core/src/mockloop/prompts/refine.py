"""Refine a prompt's deterministic result with the client's model, keeping only what validates.

The model gets a system message (what MockLoop wants back) and a user message with the result
as JSON. Its answer must hold a JSON object `{"scenarios": [...], "notes": [...]}` (in a code
fence or bare); each scenario is checked with the strict scenario validator against the
description (and its test_plan with the plan parser; a plan is generated when it has none).
What validates is added, what does not is recorded with the reasons. Any model works: a
callable taking a list of {"role", "content"} dicts and returning text (or a message with
`.content`), sync or async, or a LangChain chat model (`.ainvoke`/`.invoke`). No framework is
imported here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from mockloop.errors import ConfigError
from mockloop.mock.scenarios.check import check_scenario
from mockloop.packs.plans import OperationRequests
from mockloop.prompts.models import PromptResult, Refinement
from mockloop.spec.model import ApiSpec
from mockloop.testing.plans.model import parse_plan

__all__ = ["ask_model", "parse_model_answer", "refine_result"]

_SYSTEM = (
    "You are an API testing expert working with MockLoop. You receive the deterministic result "
    "of the MockLoop prompt '{prompt}' as JSON. Improve it by ADDING what is missing: answer "
    'with one JSON object {{"scenarios": [...], "notes": [...]}} and nothing else. Each '
    'scenario follows the MockLoop scenario format: {{"name", "description", "rules": '
    '[{{"operation": operationId, "status", "headers", "body", "delay": '
    '{{"distribution": "normal", "mean_ms", "stddev_ms"}}, "error_rate", '
    '"error_status", "sequence": [...]}}], "type", "tags"}}; use only operationIds '
    "that appear in the input. Notes are short strings of advice. Do not repeat existing "
    "scenarios."
)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_MAX_INPUT = 60_000


def model_name(llm: Any) -> str:
    """A readable name of the model object."""
    for attribute in ("model_name", "model", "name"):
        value = getattr(llm, attribute, None)
        if isinstance(value, str) and value:
            return value
    return getattr(llm, "__name__", None) or type(llm).__name__


def _text_of(answer: Any) -> str:
    content = getattr(answer, "content", answer)
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                parts.append(str(part.get("text", "")))
            else:
                parts.append(str(part))
        return "".join(parts)
    if isinstance(content, dict):
        return json.dumps(content)
    return str(content)


async def ask_model(llm: Any, messages: list[dict[str, str]]) -> str:
    """Send messages to the model (any of the accepted shapes) and return its text."""
    if hasattr(llm, "ainvoke"):
        answer = await llm.ainvoke(messages)
    elif hasattr(llm, "invoke"):
        answer = await asyncio.to_thread(llm.invoke, messages)
    elif callable(llm):
        function: Callable[..., Any] = llm
        if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - objects with an async __call__
        ):
            answer = await function(messages)
        else:
            answer = await asyncio.to_thread(function, messages)
            if inspect.isawaitable(answer):
                answer = await answer
    else:
        raise ConfigError(
            f"llm must be a callable taking messages or a chat model with invoke(), got "
            f"{type(llm).__name__}"
        )
    return _text_of(answer)


def parse_model_answer(text: str) -> dict[str, Any]:
    """The JSON object in the model's answer; ValueError when there is none."""
    candidates = [match.strip() for match in _FENCE.findall(text)] + [text.strip()]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            return {"scenarios": value}
    raise ValueError("the answer holds no JSON object")


def _compact(result: PromptResult) -> str:
    data = result.model_dump(mode="json", exclude={"messages", "refinement"})
    text = json.dumps(data, default=str)
    if len(text) > _MAX_INPUT:
        data.pop("test_plan", None)
        for scenario in data.get("scenarios", []):
            scenario.pop("test_plan", None)
            scenario["rules"] = scenario.get("rules", [])[:5]
        text = json.dumps(data, default=str)[:_MAX_INPUT]
    return text


async def refine_result(
    result: PromptResult,
    llm: Any,
    *,
    requested: bool,
    spec: ApiSpec | None,
) -> Refinement:
    """Ask the model, merge what validates into `result` (in place), and say what happened."""
    if not requested:
        return Refinement(mode="deterministic", requested=False, note="ai_optimization=False")
    if llm is None:
        return Refinement(
            mode="deterministic",
            requested=True,
            note="ai_optimization was requested but the client has no llm: the result is "
            "deterministic (MockLoopClient(llm=...) takes a chat model or a callable)",
        )
    refinement = Refinement(mode="llm", requested=True, model=model_name(llm))
    messages = [
        {"role": "system", "content": _SYSTEM.format(prompt=result.prompt)},
        {"role": "user", "content": _compact(result)},
    ]
    try:
        text = await ask_model(llm, messages)
        answer = parse_model_answer(text)
    except ConfigError:
        raise
    except Exception as exc:  # the model failing must not lose the deterministic result
        refinement.error = f"{type(exc).__name__}: {exc}"
        refinement.note = "the model's answer was not used; the result is deterministic"
        return refinement
    for note in answer.get("notes") or []:
        if isinstance(note, str) and note.strip():
            refinement.added_notes.append(note.strip())
            result.notes.append(f"model: {note.strip()}")
    proposed = answer.get("scenarios") or []
    if not isinstance(proposed, list):
        refinement.dropped.append({"name": None, "reasons": ["scenarios is not a list"]})
        proposed = []
    requests = OperationRequests(spec) if spec is not None else None
    names = {s["name"] for s in result.scenarios}
    for item in proposed:
        kept, reasons = _validated(item, names, spec, requests)
        if kept is None:
            name = item.get("name") if isinstance(item, dict) else None
            refinement.dropped.append({"name": name, "reasons": reasons})
            continue
        kept.setdefault("source", f"llm:{refinement.model}")
        result.scenarios.append(kept)
        names.add(kept["name"])
        refinement.added_scenarios.append(kept["name"])
    refinement.note = (
        f"the model added {len(refinement.added_scenarios)} scenario(s) and "
        f"{len(refinement.added_notes)} note(s); {len(refinement.dropped)} proposal(s) dropped"
    )
    return refinement


def _validated(
    item: Any,
    names: set[str],
    spec: ApiSpec | None,
    requests: OperationRequests | None,
) -> tuple[dict[str, Any] | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"not a scenario object: {type(item).__name__}"]
    if item.get("name") in names:
        return None, [f"a scenario named {item.get('name')!r} exists already"]
    check = check_scenario(
        item,
        strict=True,
        operations=spec.operations if spec is not None else None,
        document=spec.document if spec is not None else None,
    )
    if check.problems:
        return None, [str(problem) for problem in check.problems]
    scenario = dict(item)
    plan = scenario.get("test_plan")
    if plan is not None:
        try:
            parse_plan(plan)
        except ConfigError as exc:
            return None, [f"test_plan: {exc}"]
    elif requests is not None:
        made, _ = requests.plan_for(scenario)
        if made is not None:
            scenario["test_plan"] = made
    return scenario, []
