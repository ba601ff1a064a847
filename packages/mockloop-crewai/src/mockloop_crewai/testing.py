"""A scripted CrewAI LLM for running MockLoop crews without a real model.

`FunctionLLM` answers each turn with the text a Python function of the conversation returns,
in CrewAI's ReAct format: `react_action(tool, arguments)` asks for a tool, `react_answer(text)`
gives the final answer. The function sees every message so far, including the tools'
observations, so a script can read the URL `generate_mock_api` returned and pass it on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crewai.llms.base_llm import BaseLLM

__all__ = [
    "FunctionLLM",
    "Message",
    "observations",
    "observed_results",
    "react_action",
    "react_answer",
]

Message = dict[str, Any]
"""A chat message as CrewAI passes it: {"role": ..., "content": ...}."""

_RESULT_JSON = "Result JSON: "


class FunctionLLM(BaseLLM):
    """A CrewAI LLM whose every reply is `function(messages)` (ReAct text, no network)."""

    function: Callable[[list[Message]], str]
    calls: int = 0

    def __init__(self, function: Callable[[list[Message]], str], **kwargs: Any) -> None:
        kwargs.setdefault("model", "mockloop-function")
        kwargs["function"] = function
        super().__init__(**kwargs)

    def call(
        self,
        messages: str | list[Any],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        """The script's reply to the conversation so far."""
        self.calls += 1
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        return self.function([dict(message) for message in messages])

    def supports_function_calling(self) -> bool:
        """Tools are called in ReAct text, as the script writes it."""
        return False

    def supports_stop_words(self) -> bool:
        """The script stops by itself."""
        return False

    def get_context_window_size(self) -> int:
        """Large enough for any conversation a script holds."""
        return 200_000

    def get_input_tokens_count(
        self, messages: str | list[Any], tools: Any = None, response_model: Any = None
    ) -> int:
        """A script has no tokenizer: one token per four characters, as CrewAI estimates."""
        if isinstance(messages, str):
            return (len(messages) + 3) // 4
        return sum((len(str(m.get("content") or "")) + 3) // 4 for m in messages)


def react_action(tool: str, arguments: dict[str, Any], thought: str = "") -> str:
    """ReAct text asking CrewAI to call `tool` with `arguments`."""
    return (
        f"Thought: {thought or f'I should use {tool}.'}\n"
        f"Action: {tool}\n"
        f"Action Input: {json.dumps(arguments)}"
    )


def react_answer(text: str) -> str:
    """ReAct text giving the final answer."""
    return f"Thought: I now know the final answer\nFinal Answer: {text}"


def observations(messages: list[Message]) -> list[str]:
    """The tools' observations in the conversation, oldest first.

    Each assistant turn holds one action and, after "Observation:", what the tool answered
    (CrewAI sometimes appends a reminder of the tools to it).
    """
    found = []
    for message in messages:
        if message.get("role") != "assistant":
            continue  # the system prompt shows the format, "Observation:" included
        content = str(message.get("content") or "")
        _, marker, observed = content.partition("Observation:")
        if marker:
            found.append(observed.strip())
    return found


def observed_results(messages: list[Message]) -> list[dict[str, Any]]:
    """The JSON results of the successful tool calls observed so far, oldest first."""
    decoder = json.JSONDecoder()
    results = []
    for text in observations(messages):
        start = text.find(_RESULT_JSON)
        if start < 0:
            continue
        value, _ = decoder.raw_decode(text, start + len(_RESULT_JSON))
        if isinstance(value, dict):
            results.append(value)
    return results
