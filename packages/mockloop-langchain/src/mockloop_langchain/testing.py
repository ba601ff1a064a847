"""A scripted chat model for driving MockLoop agents without a real model.

`FunctionChatModel` answers each turn with whatever a Python function of the conversation
returns: an `AIMessage` (with tool calls, usually) or plain text. It supports `bind_tools`, so
it slots into any LangChain or LangGraph agent in place of a real model; the function sees the
tools bound to it and every earlier message, including tool results, so a script can read the
URL `generate_mock_api` returned and pass it to `run_load_test`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

__all__ = ["FunctionChatModel", "ScriptFunction", "call_tool", "tool_results"]

ScriptFunction = Callable[[list[BaseMessage], list[str]], AIMessage | str]
"""(messages so far, names of the bound tools) -> the model's next message."""

_ids = itertools.count(1)


class FunctionChatModel(BaseChatModel):
    """A chat model whose every reply is computed by `function(messages, bound_tool_names)`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    function: ScriptFunction
    bound_tools: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "mockloop-function"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The same model with `tools` bound (their schemas reach the script by name)."""
        return self.model_copy(update={"bound_tools": [convert_to_openai_tool(t) for t in tools]})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        names = [tool["function"]["name"] for tool in self.bound_tools]
        reply = self.function(list(messages), names)
        message = AIMessage(content=reply) if isinstance(reply, str) else reply
        return ChatResult(generations=[ChatGeneration(message=message)])


def call_tool(name: str, arguments: dict[str, Any], content: str = "") -> AIMessage:
    """An assistant message asking for one tool call."""
    return AIMessage(
        content=content,
        tool_calls=[{"name": name, "args": arguments, "id": f"call_{next(_ids)}"}],
    )


def tool_results(messages: Sequence[BaseMessage], name: str) -> list[dict[str, Any]]:
    """The JSON results of every successful call of tool `name` in the conversation."""
    found = []
    for message in messages:
        if not isinstance(message, ToolMessage) or message.name != name:
            continue
        if message.status == "error":
            continue
        artifact = message.artifact
        if hasattr(artifact, "model_dump"):
            found.append(artifact.model_dump(mode="json"))
            continue
        text = str(message.content)
        marker = "Result JSON: "
        start = text.find(marker)
        value, _ = json.JSONDecoder().raw_decode(text, start + len(marker) if start >= 0 else 0)
        found.append(value)
    return found
