"""MockLoop for LangChain and LangGraph.

`get_tools()` gives every MockLoop operation as a LangChain tool (sync and async, the
catalog's own names and argument schemas, errors as `ToolMessage(status="error")`);
`get_tool_node()` is a LangGraph `ToolNode` over them, `build_agent_graph(model)` a
tool-calling agent over them, and `build_testing_workflow()` a prebuilt testing workflow graph
(mock, analyse, deploy scenarios, load, probe, analyse) that compiles on its own or as a
subgraph. `mockloop_langchain.testing.FunctionChatModel` drives all of them without a real
model.
"""

from importlib.metadata import version as _version

from mockloop_langchain.graph import (
    MockLoopAgentState,
    build_agent_graph,
    get_tool_node,
)
from mockloop_langchain.tools import (
    PROGRESS_EVENT,
    get_tools,
    select_operations,
    tool_for_operation,
)
from mockloop_langchain.workflow import TestingWorkflowState, build_testing_workflow

__all__ = [
    "PROGRESS_EVENT",
    "MockLoopAgentState",
    "TestingWorkflowState",
    "__version__",
    "build_agent_graph",
    "build_testing_workflow",
    "get_tool_node",
    "get_tools",
    "select_operations",
    "tool_for_operation",
]

__version__ = _version("mockloop-langchain")
