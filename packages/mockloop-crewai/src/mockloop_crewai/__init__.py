"""MockLoop for CrewAI.

`get_tools()` gives every MockLoop operation as a CrewAI tool (the catalog's own names and
argument schemas; a failing call answers the agent with error text and never crashes the
crew); `get_role_tools(role)` and `get_crew_tools()` give the usual three-agent crew (API
testing, performance, security) its tools. `mockloop_crewai.testing.FunctionLLM` runs a crew
without a real model.
"""

from importlib.metadata import version as _version

from mockloop_crewai.tools import (
    ROLE_OPERATIONS,
    MockLoopTool,
    get_crew_tools,
    get_role_tools,
    get_tools,
    select_operations,
)

__all__ = [
    "ROLE_OPERATIONS",
    "MockLoopTool",
    "__version__",
    "get_crew_tools",
    "get_role_tools",
    "get_tools",
    "select_operations",
]

__version__ = _version("mockloop-crewai")
