"""Operations: the `@operation` mark, and a catalog described from a marked class.

An operation is an async method of the client marked with `@operation(...)`. Its signature
gives the parameters (types, defaults), its Google-style docstring gives the description
(first line) and each parameter's text (`Args:`), and its return annotation gives the result
model. The mark also carries who uses the operation: the agent roles it serves (`roles`, the
crew roles the CrewAI face builds), free labels adapters act on (`tags`, e.g.
"adds_api_tools": after it, a plugin's API tools change) and whether a schedule may run it
(`schedulable`). Every list an adapter needs is read from these marks, none is written by
hand. This module knows nothing of the client: the client's operation modules import the mark
from here, and `mockloop.catalog` builds the client's catalog with `catalog_of`, so imports run
one way (catalog -> client -> operations -> this module).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import time
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from mockloop.errors import ConfigError

__all__ = [
    "ROLES",
    "TAGS",
    "Catalog",
    "OperationKind",
    "OperationSpec",
    "OperationTag",
    "ParameterSpec",
    "Role",
    "build_catalog",
    "catalog_of",
    "invalid_arguments",
    "operation",
    "parse_docstring",
    "schema_of",
]

OperationKind = Literal["tool", "prompt", "resource"]
Role = Literal["api_testing", "performance", "security"]
"""The agent roles an operation may serve (a crew's API-testing, performance and security
agents), in the order crews list them."""
OperationTag = Literal["adds_api_tools"]
"""Labels adapters act on. "adds_api_tools": the operation starts a plugin whose API
operations become tools (adapters that list tools live refresh them after it)."""
ROLES: tuple[Role, ...] = typing.get_args(Role)
TAGS: tuple[OperationTag, ...] = typing.get_args(OperationTag)
F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__mockloop_operation__"
_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Yields|Examples?|Notes?):\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+)(?:\s*\(.*?\))?:\s*(.*)$")


@dataclass(frozen=True)
class _Mark:
    group: str
    read_only: bool
    kind: OperationKind
    destructive: bool
    long_running: bool
    roles: tuple[Role, ...] = ()
    tags: tuple[OperationTag, ...] = ()
    schedulable: bool = False
    prompt_requires: tuple[str, ...] = ()


def operation(
    *,
    group: str,
    read_only: bool = False,
    kind: OperationKind = "tool",
    destructive: bool = False,
    long_running: bool = False,
    roles: tuple[Role, ...] = (),
    tags: tuple[OperationTag, ...] = (),
    schedulable: bool = False,
    prompt_requires: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Mark an async client method as a catalog operation.

    Args:
        group: the capability it belongs to ("mock", "testing", "context", ...).
        read_only: it changes nothing (safe for an agent to call freely).
        kind: how adapters expose it: a tool, a prompt or a resource.
        destructive: it deletes or stops something.
        long_running: it may take long; adapters report progress.
        roles: the agent roles whose tool sets hold it (see `ROLES`).
        tags: labels adapters act on (see `OperationTag`).
        schedulable: a test suite schedule may run it (it must take a `session_id`).
        prompt_requires: kind="prompt": optional parameters a prompt form must still ask
            for. A method may take one of several inputs (a description or endpoints), a
            form that renders with only its required fields must name the one it asks for.
    """
    unknown = [r for r in roles if r not in ROLES] + [t for t in tags if t not in TAGS]
    if unknown:
        raise TypeError(
            f"unknown role or tag {', '.join(map(repr, unknown))}; roles: {', '.join(ROLES)}; "
            f"tags: {', '.join(TAGS)}"
        )
    marked = _Mark(
        group,
        read_only,
        kind,
        destructive,
        long_running,
        tuple(roles),
        tuple(tags),
        schedulable,
        tuple(prompt_requires),
    )

    def mark(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"operation {func.__name__} must be an async method")
        absent = [p for p in prompt_requires if p not in inspect.signature(func).parameters]
        if absent or (prompt_requires and kind != "prompt"):
            raise TypeError(
                f"operation {func.__name__}: prompt_requires names parameters of a "
                f"kind='prompt' operation; not parameters: {absent or 'none'}, kind={kind!r}"
            )
        if schedulable and "session_id" not in inspect.signature(func).parameters:
            raise TypeError(
                f"operation {func.__name__} is schedulable but takes no session_id: a "
                "schedule's runs land in its session"
            )
        audited = _audited(func)
        setattr(audited, _MARK, marked)
        return audited  # type: ignore[return-value]

    return mark


def _audited(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an operation so that every call, ok or not, appends an audit record (outcome
    "invalid" for arguments its signature cannot take: the call never ran)."""
    signature = inspect.signature(func)
    name = func.__name__

    @functools.wraps(func)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        from mockloop.audit import record_call, record_rejected
        from mockloop.settings import using_home

        started = time.perf_counter()
        error: BaseException | None = None
        cancelled = False
        try:
            return await func(self, *args, **kwargs)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                bound = signature.bind(self, *args, **kwargs)
                arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
                refused: BaseException | None = None
            except TypeError:
                # Arguments the signature cannot take: the call was refused before it ran.
                arguments = {"args": list(args), **kwargs}
                refused = error if isinstance(error, TypeError) else None
            settings = getattr(self, "settings", None)
            with using_home(getattr(settings, "home", None)):
                if refused is not None:
                    await asyncio.shield(
                        asyncio.to_thread(record_rejected, name, arguments, refused)
                    )
                else:
                    await asyncio.shield(
                        asyncio.to_thread(
                            record_call,
                            name,
                            arguments,
                            error=error,
                            cancelled=cancelled,
                            duration_ms=(time.perf_counter() - started) * 1000.0,
                        )
                    )

    return call


def _unchanged(value: Any) -> Any:
    return value


def schema_of(model: Any) -> BeforeValidator:
    """Publish a parameter's JSON Schema as `model`'s, leaving its validation as annotated.

    `Annotated[dict[str, Any], schema_of(TestPlan)]` is validated as a dict and handed to
    the operation as the caller gave it (the operation parses it itself, with its own error
    texts and synonyms), while the schema an agent reads is `{"$ref": "#/$defs/TestPlan"}`
    with the model's fields, descriptions and examples in the root `$defs` (nested models
    hoisted there too). `model` may be any type pydantic describes (`A | B`, `list[A]`).
    MCP's inputSchema, LangChain's and CrewAI's args_schema all read the arguments model,
    so every face publishes the same typed shape.
    """
    return BeforeValidator(_unchanged, json_schema_input_type=model)


def parse_docstring(doc: str | None) -> tuple[str, str, dict[str, str]]:
    """(first line, body without the sections, {parameter: description}) of a docstring."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary = lines[0].strip() if lines else ""
    body: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines[1:]:
        stripped = line.strip()
        header = _SECTION.match(stripped)
        if header and not line.startswith(" "):
            section = header.group(1)
            current = None
            continue
        if section is None:
            body.append(line)
            continue
        if section not in ("Args", "Arguments"):
            continue
        indent = len(line) - len(line.lstrip())
        match = _ARG.match(stripped)
        if match and indent <= 4:
            name = match.group(1).lstrip("*")
            args[name] = match.group(2).strip()
            current = name
        elif current is not None and stripped:
            args[current] = f"{args[current]} {stripped}".strip()
    return summary, "\n".join(body).strip(), args


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of an operation."""

    name: str
    annotation: Any
    required: bool
    default: Any
    description: str


@dataclass(frozen=True)
class OperationSpec:
    """One operation: what adapters need to expose it as a tool, prompt or resource."""

    name: str
    description: str
    details: str
    group: str
    kind: OperationKind
    read_only: bool
    destructive: bool
    long_running: bool
    parameters: tuple[ParameterSpec, ...]
    args_model: type[BaseModel]
    result_model: Any
    method: Callable[..., Any] = field(repr=False)
    roles: tuple[Role, ...] = ()
    tags: tuple[OperationTag, ...] = ()
    schedulable: bool = False
    prompt_requires: tuple[str, ...] = ()

    @property
    def prompt_required(self) -> tuple[str, ...]:
        """The parameters a prompt form must ask for: those without a default, then the
        optional ones the mark names (`prompt_requires`)."""
        return tuple(
            p.name for p in self.parameters if p.required or p.name in self.prompt_requires
        )

    @property
    def parameters_schema(self) -> dict[str, Any]:
        """The JSON Schema of the parameters (an object schema), as adapters publish it."""
        return self.args_model.model_json_schema()

    def validate_arguments(self, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """Check tool-call arguments; ConfigError naming each bad or unknown one."""
        from pydantic import ValidationError

        arguments = dict(arguments or {})
        try:
            parsed = self.args_model.model_validate(arguments)
        except ValidationError as exc:
            raise invalid_arguments(self.name, exc) from None
        # Only what the caller gave: defaults stay the method's own (some are sentinels).
        return {name: getattr(parsed, name) for name in arguments}


def invalid_arguments(name: str, exc: Any) -> ConfigError:
    """The ConfigError for arguments of `name` that failed validation (a pydantic
    `ValidationError`): every bad or unknown argument named with what was wrong."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
    )
    return ConfigError(f"invalid arguments for {name}: {problems}")


class Catalog:
    """Every operation, in declaration order; `catalog["name"]` or `catalog.get("name")`."""

    def __init__(self, operations: list[OperationSpec]) -> None:
        self._operations = {op.name: op for op in operations}

    def __iter__(self) -> Iterator[OperationSpec]:
        return iter(self._operations.values())

    def __len__(self) -> int:
        return len(self._operations)

    def __contains__(self, name: object) -> bool:
        return name in self._operations

    def __getitem__(self, name: str) -> OperationSpec:
        return self.get(name)

    def get(self, name: str) -> OperationSpec:
        """The operation called `name`; ConfigError listing the known ones otherwise."""
        try:
            return self._operations[name]
        except KeyError:
            known = ", ".join(sorted(self._operations))
            raise ConfigError(f"unknown operation {name!r}; known operations: {known}") from None

    def names(self, kind: OperationKind | None = None) -> list[str]:
        """Operation names, optionally only those of one kind."""
        return [op.name for op in self if kind is None or op.kind == kind]

    def select(
        self,
        *,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        groups: list[str] | None = None,
        kind: OperationKind | None = "tool",
        roles: list[str] | None = None,
        tags: list[str] | None = None,
        read_only: bool | None = None,
        schedulable: bool | None = None,
    ) -> list[OperationSpec]:
        """The operations an adapter should expose, in catalog order.

        Each filter given narrows the choice: `include`/`exclude` by name, `groups` by
        capability, `roles` and `tags` (any of them), `read_only` and `schedulable` by flag.
        Unknown names, roles or tags are ConfigErrors naming the known ones.
        """
        for name in (*(include or ()), *(exclude or ())):
            self.get(name)
        _known("role", roles, ROLES)
        _known("tag", tags, TAGS)
        chosen = []
        for op in self:
            if kind is not None and op.kind != kind:
                continue
            if include is not None and op.name not in include:
                continue
            if exclude is not None and op.name in exclude:
                continue
            if groups is not None and op.group not in groups:
                continue
            if roles is not None and not set(op.roles) & set(roles):
                continue
            if tags is not None and not set(op.tags) & set(tags):
                continue
            if read_only is not None and op.read_only != read_only:
                continue
            if schedulable is not None and op.schedulable != schedulable:
                continue
            chosen.append(op)
        return chosen


def _known(what: str, given: list[str] | None, known: tuple[str, ...]) -> None:
    for value in given or ():
        if value not in known:
            raise ConfigError(f"unknown {what} {value!r}; the {what}s are: {', '.join(known)}")


def _describe(name: str, method: Callable[..., Any], mark: _Mark) -> OperationSpec:
    summary, details, arg_docs = parse_docstring(method.__doc__)
    hints = typing.get_type_hints(method, include_extras=True)  # keeps schema_of marks
    signature = inspect.signature(method)
    parameters = []
    fields: dict[str, Any] = {}
    for param in list(signature.parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"operation {name}: *args/**kwargs cannot be described")
        annotation = hints.get(param.name, Any)
        required = param.default is inspect.Parameter.empty
        default = None if required else param.default
        description = arg_docs.get(param.name, "")
        parameters.append(ParameterSpec(param.name, annotation, required, default, description))
        if required:
            fields[param.name] = (annotation, Field(..., description=description))
        else:
            fields[param.name] = (annotation, Field(default, description=description))
    args_model = create_model(  # type: ignore[call-overload]
        f"{''.join(part.title() for part in name.split('_'))}Arguments",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    return OperationSpec(
        name=name,
        description=summary,
        details=details,
        group=mark.group,
        kind=mark.kind,
        read_only=mark.read_only,
        destructive=mark.destructive,
        long_running=mark.long_running,
        parameters=tuple(parameters),
        args_model=args_model,
        result_model=hints.get("return"),
        method=method,
        roles=mark.roles,
        tags=mark.tags,
        schedulable=mark.schedulable,
        prompt_requires=mark.prompt_requires,
    )


def build_catalog(client_class: type) -> Catalog:
    """Describe every `@operation` method of a client class, in definition order."""
    operations = []
    seen: set[str] = set()
    for klass in client_class.__mro__:
        for name, member in vars(klass).items():
            mark = getattr(member, _MARK, None)
            if mark is None or name in seen:
                continue
            seen.add(name)
            operations.append(_describe(name, getattr(client_class, name), mark))
    return Catalog(operations)


@cache
def catalog_of(client_class: type) -> Catalog:
    """The catalog of a client class, built once per class (what `get_catalog` returns for
    `AsyncMockLoopClient`)."""
    return build_catalog(client_class)
