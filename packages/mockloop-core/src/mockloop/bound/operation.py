"""`MockLoopClient`'s operations, bound to a client: plain callables that are also agent tools.

Every operation method of the generated `MockLoopClient` is a `BlockingOperation`. Read on a
client (`mockloop.run_load_test`) it gives a `BoundOperation`:

- called, it is the method: same signature, same typed result, same errors;
- handed to an agent framework, it carries what tool validation looks for: `name` (the
  operation's), `description` (its docstring's text), `args_schema` (the catalog's argument
  model: typed, described), and `func`, the agent's way in: it takes the arguments as a
  framework sends them (JSON values), validates them against `args_schema`, runs the
  operation and answers with text (the result's summary and JSON); a failed call answers
  "Error: ..." (what was wrong and how to fix it) instead of raising, so an agent reads the
  error and can retry with better arguments.

So LangChain turns one into a tool from its signature and docstring (`bind_tools`,
`ToolNode`), and frameworks that take "an object with `name`, `func` and `description`" take
it as it is.

CrewAI 1.x types `Agent.tools` as `list[BaseTool]`: besides tool instances, its validation
takes only a tool dict `{"tool_type": "<module>.<class>", ...}`, which it turns into a tool
with that class's `model_validate` (how it restores tools from a checkpoint). So a bound
operation is also such a dict (`BOUND_TOOL_TYPE` names `mockloop_crewai`'s `MockLoopTool`,
which builds itself for the operation on the same client): `Agent(tools=[mockloop.run_load_test])`
works with mockloop-crewai installed, without the core importing CrewAI. A bound operation
compares and hashes by identity, as the method it stands for would be used.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from pydantic import BaseModel

from mockloop.audit import record_rejected
from mockloop.bound.text import error_text, render_result
from mockloop.errors import ConfigError, MockLoopError
from mockloop.operation import OperationSpec, catalog_of
from mockloop.redaction import redact_text
from mockloop.settings import using_home

__all__ = [
    "BOUND_CLIENT_KEY",
    "BOUND_OPERATION_KEY",
    "BOUND_TOOL_TYPE",
    "BlockingOperation",
    "BoundOperation",
    "given_arguments",
]

logger = logging.getLogger("mockloop.bound")

P = ParamSpec("P")
R = TypeVar("R")

BOUND_TOOL_TYPE = "mockloop_crewai.tools.MockLoopTool"
"""The CrewAI tool class a bound operation's tool dict names (mockloop-crewai's)."""
BOUND_OPERATION_KEY = "mockloop_operation"
"""The key of the operation's name in a bound operation's tool dict."""
BOUND_CLIENT_KEY = "mockloop_client"
"""The key of the client (a `MockLoopClient`) in a bound operation's tool dict."""


def given_arguments(op: OperationSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments minus those that are the very default object of their parameter.

    Frameworks fill every default in after validating; dropping them keeps the method's own
    defaults (some are sentinels, such as "the default port, moved if busy").
    """
    defaults = {p.name: p.default for p in op.parameters if not p.required}
    return {
        name: value
        for name, value in arguments.items()
        if not (name in defaults and value is defaults[name])
    }


class BoundOperation(dict[str, Any], Generic[P, R]):
    """One operation of one `MockLoopClient`: call it as the method, or give it to an agent.

    Its items are the CrewAI tool dict (`tool_type`, the operation's name, the client); see
    the module's docstring.

    Args:
        method: the client's blocking method, bound to the client.
        spec: the operation's catalog entry (name, description, argument model).
    """

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __init__(self, method: Callable[P, R], spec: OperationSpec) -> None:
        client = getattr(method, "__self__", None)
        super().__init__(
            {"tool_type": BOUND_TOOL_TYPE, BOUND_OPERATION_KEY: spec.name, BOUND_CLIENT_KEY: client}
        )
        self._method = method
        self.spec = spec
        self.__name__ = spec.name
        self.__qualname__ = getattr(method, "__qualname__", spec.name)
        self.__module__ = getattr(method, "__module__", __name__)
        self.__doc__ = getattr(method, "__doc__", None)
        # The method's own signature without `self`, and its annotations with the globals
        # they resolve in (`typing.get_type_hints` follows `__wrapped__` for those), so a
        # framework that builds a tool from a callable's signature reads the real types.
        self.__signature__ = inspect.signature(method)
        self.__annotations__ = dict(getattr(method, "__annotations__", {}))
        self.__wrapped__ = method

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the operation, blocking, and return its typed result (errors raise)."""
        return self._method(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<bound operation {self.__qualname__}>"

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    @property
    def client(self) -> Any:
        """The `MockLoopClient` the operation runs on."""
        return self[BOUND_CLIENT_KEY]

    @property
    def name(self) -> str:
        """The operation's name: the tool name an agent calls."""
        return self.spec.name

    @property
    def description(self) -> str:
        """What the operation does, for an agent: the docstring's text without `Args:`."""
        details = self.spec.details
        return self.spec.description + (f"\n\n{details}" if details else "")

    @property
    def args_schema(self) -> type[BaseModel]:
        """The catalog's argument model: every parameter typed and described."""
        return self.spec.args_model

    @property
    def func(self) -> Callable[..., str]:
        """The agent's way in: `func(**arguments)` answers with text, never raises.

        The arguments are validated against `args_schema` (JSON values become the
        operation's types; values a framework filled in from the defaults are left to the
        method's own defaults). The answer is the result's summary and JSON, or "Error: ..."
        saying what was wrong and how to fix it.
        """
        return self.call_as_tool

    def call_as_tool(self, **arguments: Any) -> str:
        """Run the operation for an agent: the result as text, or "Error: ..." as text.

        Arguments refused by the catalog's check are audited (outcome "invalid") in the
        client's home: the operation never ran.
        """
        given = given_arguments(self.spec, arguments)
        try:
            checked = self.spec.validate_arguments(given)
        except MockLoopError as exc:
            settings = getattr(self.client, "settings", None)
            with using_home(getattr(settings, "home", None)):
                record_rejected(self.spec.name, given, exc)
            return f"Error: {error_text(self.spec.name, exc)}"
        try:
            result = self._method(**checked)  # type: ignore[call-arg]
        except Exception as exc:
            if not isinstance(exc, MockLoopError):
                logger.exception("operation %s failed", self.spec.name)
            return f"Error: {error_text(self.spec.name, exc)}"
        return redact_text(render_result(result))


class BlockingOperation(Generic[P, R]):
    """A `MockLoopClient` method that is a catalog operation; on a client, a `BoundOperation`.

    Read on the class it is the method itself (its signature and docstring are the async
    operation's); read on a client it gives that client's `BoundOperation`, made once per
    client and kept. The client must have `async_client`, whose class's catalog names the
    operation.

    Args:
        method: the blocking method (`def name(self, ...)`), named as its operation.
    """

    def __init__(self, method: Callable[Concatenate[Any, P], R]) -> None:
        self.method = method
        self.name = method.__name__
        functools.update_wrapper(self, method)

    def __set_name__(self, owner: type[Any], name: str) -> None:
        if name != self.name:
            raise ConfigError(
                f"{owner.__name__}.{name} wraps operation {self.name!r}: a blocking operation "
                "must keep its operation's name"
            )

    @overload
    def __get__(
        self, instance: None, owner: type[Any] | None = None
    ) -> BlockingOperation[P, R]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> BoundOperation[P, R]: ...

    def __get__(
        self, instance: object | None, owner: type[Any] | None = None
    ) -> BlockingOperation[P, R] | BoundOperation[P, R]:
        if instance is None:
            return self
        client_class = type(instance.async_client)  # type: ignore[attr-defined]
        spec = catalog_of(client_class).get(self.name)
        bound: BoundOperation[P, R] = BoundOperation(
            self.method.__get__(instance, type(instance)), spec
        )
        # A non-data descriptor: the instance's own attribute answers every later read.
        vars(instance)[self.name] = bound
        return bound

    def __call__(self, instance: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the method on `instance` (as `MockLoopClient.name(client, ...)` does)."""
        return self.method(instance, *args, **kwargs)
