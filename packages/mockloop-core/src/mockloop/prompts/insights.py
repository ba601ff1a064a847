"""Refine an analysis's insights with the client's model, keeping only insights with evidence.

`analyze_test_results(ai_insights=True)` builds its insights from rules over the figures
(`mockloop.testing.analysis.insights`). With a model configured (`MockLoopClient(llm=...)`),
the model gets the analysis and those insights as JSON and answers
`{"insights": [{"topic", "title", "detail", "evidence"}]}`; an insight is kept when it has a
title, a detail and evidence (the figure it rests on) and its topic is known. A model that
fails or answers nonsense never loses the deterministic insights: the section says what
happened.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from mockloop.errors import ConfigError
from mockloop.prompts.refine import ask_model, model_name, parse_model_answer
from mockloop.testing.analysis.insights import Insight, InsightsSection, InsightTopic

__all__ = ["refine_insights"]

_TOPICS = typing.get_args(InsightTopic)
_SYSTEM = (
    "You are a performance and API testing expert working with MockLoop. You receive the "
    "analysis of test runs as JSON and the insights MockLoop drew from its figures. ADD "
    "insights the figures support and MockLoop missed: answer with one JSON object "
    '{"insights": [{"topic", "title", "detail", "evidence"}]} and nothing else. topic is one '
    f"of {', '.join(_TOPICS)}; evidence quotes the figure of the analysis the insight rests "
    "on. Do not repeat existing insights."
)
_MAX_INPUT = 60_000


async def refine_insights(
    section: InsightsSection, analysis: dict[str, Any], llm: Any
) -> InsightsSection:
    """`section` with the model's insights added (when `llm` is set), saying what happened."""
    if llm is None:
        return section
    payload = json.dumps(
        {"analysis": analysis, "insights": section.model_dump(mode="json")["insights"]},
        default=str,
    )[:_MAX_INPUT]
    name = model_name(llm)
    try:
        answer = parse_model_answer(
            await ask_model(
                llm,
                [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": payload}],
            )
        )
    except ConfigError:
        raise
    except Exception as exc:  # the model failing must not lose the deterministic insights
        section.note = (
            f"rules over the figures; the model {name} failed ({type(exc).__name__}: {exc}), "
            "its answer was not used"
        )
        return section
    proposed = answer.get("insights")
    titles = {insight.title for insight in section.insights}
    added = dropped = 0
    for item in proposed if isinstance(proposed, list) else []:
        fields = item if isinstance(item, dict) else {}
        texts = {key: str(fields.get(key) or "").strip() for key in ("title", "detail", "evidence")}
        if (
            fields.get("topic") not in _TOPICS
            or not all(texts.values())
            or texts["title"] in titles
        ):
            dropped += 1
            continue
        section.insights.append(Insight(topic=fields["topic"], source="llm", **texts))
        titles.add(texts["title"])
        added += 1
    section.mode = "llm"
    section.note = (
        f"rules over the figures, refined by the model {name}: {added} insight(s) added, "
        f"{dropped} dropped (no evidence, an unknown topic or a repeat)"
    )
    return section
