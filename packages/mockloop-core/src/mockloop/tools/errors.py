"""The text an agent reads when a tool call fails, the same on every face.

MCP puts it in an `isError` result, LangChain in a `ToolMessage(status="error")`, CrewAI in
the tool's answer; all three build it here. A user mistake (`MockLoopUserError`) says to fix
the arguments and call again; any other MockLoop error says what failed; anything else is a
bug, reported as one. Every text is redacted: a secret an error echoes never reaches the
agent's transcript.
"""

from __future__ import annotations

from typing import Any

from mockloop.errors import MockLoopError, MockLoopUserError
from mockloop.operation import invalid_arguments
from mockloop.redaction import redact_text

__all__ = ["error_text", "validation_error_text"]


def error_text(op_name: str, exc: BaseException) -> str:
    """What the agent reads when `op_name` fails with `exc`: what was wrong and what to do."""
    if isinstance(exc, MockLoopUserError):
        text = f"{type(exc).__name__}: {exc} (fix the arguments of {op_name} and call it again)"
    elif isinstance(exc, MockLoopError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = (
            f"{op_name} failed inside MockLoop ({type(exc).__name__}: {exc}); check the "
            "arguments, or report this error"
        )
    return redact_text(text)


def validation_error_text(op_name: str, exc: Any) -> str:
    """The error text for arguments a framework's own validation refused (a pydantic
    `ValidationError`): each bad argument named, as a ConfigError to fix and retry."""
    return error_text(op_name, invalid_arguments(op_name, exc))
