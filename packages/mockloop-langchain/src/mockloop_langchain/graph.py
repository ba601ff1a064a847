"""LangGraph helpers: a ready MockLoop tool node and a small tool-calling agent graph.

`get_tool_node()` is a `ToolNode` over `get_tools()` that never raises: a failing call becomes
a `ToolMessage(status="error")` the model can read and act on. `build_agent_graph(model)`
wires a chat model and that node into a loop (model -> tools -> model ... until the model
answers without tool calls) whose typed state keeps, besides the messages, the latest JSON
result of every MockLoop operation called (`state["results"]["analyze_test_results"]`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from mockloop.results import Result
from mockloop_langchain.caller import ClientLike
from mockloop_langchain.tools import get_tools

__all__ = ["MockLoopAgentState", "build_agent_graph", "get_tool_node", "merge_results"]


def get_tool_node(
    client: ClientLike = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    tools: Sequence[BaseTool] | None = None,
    name: str = "tools",
) -> ToolNode:
    """A LangGraph `ToolNode` running MockLoop tools; errors come back as error messages.

    Args:
        client: the client the tools run on (see `get_tools`); ignored when `tools` is given.
        include: only these operations.
        exclude: every operation but these.
        tools: tools already made by `get_tools` (to share them with a model's `bind_tools`).
        name: the node's name.
    """
    chosen = list(tools) if tools is not None else get_tools(client, include, exclude)
    return ToolNode(chosen, name=name, handle_tool_errors=True)


def merge_results(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """State reducer: later results of an operation replace earlier ones."""
    return {**(left or {}), **(right or {})}


class MockLoopAgentState(TypedDict):
    """The agent graph's state."""

    messages: Annotated[list[AnyMessage], add_messages]
    results: Annotated[dict[str, Any], merge_results]
    """operation name -> JSON of its latest successful result."""


def _latest_tool_results(messages: Sequence[AnyMessage]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        if message.status == "error" or message.name is None or message.name in results:
            continue
        artifact = message.artifact
        if isinstance(artifact, Result):
            results[message.name] = artifact.model_dump(mode="json")
    return results


def build_agent_graph(
    model: BaseChatModel,
    client: ClientLike = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    tools: Sequence[BaseTool] | None = None,
    system_prompt: str | None = None,
) -> StateGraph:
    """A tool-calling agent over MockLoop tools, as a `StateGraph` to compile.

    Args:
        model: a chat model that supports `bind_tools`.
        client: the client the tools run on (see `get_tools`); ignored when `tools` is given.
        include: only these operations.
        exclude: every operation but these.
        tools: the tools to give the model (default: `get_tools(client, include, exclude)`).
        system_prompt: an instruction put before the conversation on every model turn.
    """
    chosen = list(tools) if tools is not None else get_tools(client, include, exclude)
    bound = model.bind_tools(chosen)

    def agent(state: MockLoopAgentState) -> dict[str, Any]:
        messages: list[Any] = list(state["messages"])
        if system_prompt:
            messages = [("system", system_prompt), *messages]
        return {"messages": [bound.invoke(messages)]}

    async def aagent(state: MockLoopAgentState) -> dict[str, Any]:
        messages: list[Any] = list(state["messages"])
        if system_prompt:
            messages = [("system", system_prompt), *messages]
        return {"messages": [await bound.ainvoke(messages)]}

    def record(state: MockLoopAgentState) -> dict[str, Any]:
        return {"results": _latest_tool_results(state["messages"])}

    def route(state: MockLoopAgentState) -> str:
        last = state["messages"][-1] if state["messages"] else None
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MockLoopAgentState)
    graph.add_node("agent", RunnableLambda(agent, afunc=aagent))
    graph.add_node("tools", get_tool_node(tools=chosen))
    graph.add_node("record", record)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "record")
    graph.add_edge("record", "agent")
    return graph
