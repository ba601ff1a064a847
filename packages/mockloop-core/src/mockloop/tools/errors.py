"""The text an agent reads when a tool call fails, the same on every face.

MCP puts it in an `isError` result, LangChain in a `ToolMessage(status="error")`, CrewAI in
the tool's answer, a bound operation of `MockLoopClient` in its `func`'s answer; all of them
build it with `mockloop.bound.text` (below the blocking client, which uses it too). A user
mistake (`MockLoopUserError`) says to fix the arguments and call again; any other MockLoop
error says what failed; anything else is a bug, reported as one. Every text is redacted.
"""

from __future__ import annotations

from mockloop.bound.text import error_text, validation_error_text

__all__ = ["error_text", "validation_error_text"]
