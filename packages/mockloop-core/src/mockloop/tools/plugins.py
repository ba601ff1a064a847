"""The API tools of MockLoop plugins, provided to every face (MCP, LangChain, CrewAI).

A plugin (`create_mcp_plugin`) serves a described API; each of its operations is a tool named
`<plugin>_<operationId>` whose arguments are the operation's parameters and request body
(`list_api_tools`). A call goes through `call_api_tool`, i.e. through the plugin's business
port, so the plugin's mode (mock, proxy, hybrid, replay) decides who answers.

`PluginTools` is the one provider: it finds the plugins recorded in the client's home that
answer (`discover`), loads a plugin's tools (`register`, also after any operation tagged
"adds_api_tools"), describes each tool (`PluginTool`: JSON schema, a pydantic argument model
for frameworks that need one, read-only and destructive hints from the HTTP method) and calls
them. The faces only wrap these descriptions into their framework's tool type. Nothing here
imports an agent framework.
"""

from __future__ import annotations

import asyncio
import keyword
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from mockloop.audit import using_face
from mockloop.client import AsyncMockLoopClient
from mockloop.errors import ConfigError, MockLoopError
from mockloop.operation import OperationSpec, OperationTag
from mockloop.proxy.results import ApiCallResult

__all__ = ["ADDS_API_TOOLS", "PluginTool", "PluginTools"]

logger = logging.getLogger("mockloop.tools")

ADDS_API_TOOLS: OperationTag = "adds_api_tools"
"""The operation tag after which a plugin's API tools are (re)loaded."""

_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class PluginTool:
    """One operation of a plugin's API, described for any face.

    Args:
        name: the tool's name, `<plugin>_<operationId>`.
        plugin_name: the plugin that serves it.
        operation_id: the operation's id in the description.
        method: the HTTP method ("GET", "POST", ...).
        summary: what the operation does, from the description.
        input_schema: the JSON schema of the arguments (parameters by name, "body").
    """

    name: str
    plugin_name: str
    operation_id: str
    method: str
    summary: str
    input_schema: dict[str, Any] = field(repr=False)

    @property
    def title(self) -> str:
        """A human title: "<plugin>: <operationId>"."""
        return f"{self.plugin_name}: {self.operation_id}"

    @property
    def description(self) -> str:
        """The tool description an agent reads (what it does, and who answers)."""
        return (
            f"{self.summary} [API tool of plugin {self.plugin_name!r}; answered according to "
            "the plugin's mode]"
        )

    @property
    def read_only(self) -> bool:
        """The HTTP method changes nothing (GET, HEAD, OPTIONS)."""
        return self.method in _READ_ONLY_METHODS

    @property
    def destructive(self) -> bool:
        """The HTTP method deletes (DELETE)."""
        return self.method == "DELETE"

    @property
    def idempotent(self) -> bool:
        """Calling twice has the effect of calling once (read-only, PUT, DELETE)."""
        return self.read_only or self.method in ("PUT", "DELETE")

    @cached_property
    def args_model(self) -> type[BaseModel]:
        """A pydantic model of the arguments, for frameworks that need one (CrewAI).

        Each argument keeps its name and its JSON schema as published; values are checked
        against that schema when the tool is called, so every agent gets the same errors.
        """
        properties: dict[str, Any] = self.input_schema.get("properties") or {}
        required = set(self.input_schema.get("required") or ())
        fields: dict[str, Any] = {}
        for index, (name, schema) in enumerate(properties.items()):
            extra = dict(schema) if isinstance(schema, dict) else {}
            description = str(extra.pop("description", "") or "")
            default = ... if name in required else None
            if _plain_field_name(name):
                fields[name] = (
                    Any,
                    Field(default, description=description, json_schema_extra=extra),
                )
            else:  # pydantic refuses the name as a field: keep it as the alias
                fields[f"argument_{index}"] = (
                    Any,
                    Field(default, alias=name, description=description, json_schema_extra=extra),
                )
        return create_model(  # type: ignore[call-overload]
            f"{_class_name(self.name)}Arguments",
            __config__=ConfigDict(extra="forbid", populate_by_name=True),
            **fields,
        )

    def arguments(self, given: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by their published names: optional ones left empty (None) by
        a framework's validation are dropped, field names given back as argument names."""
        names = {key: info.alias or key for key, info in self.args_model.model_fields.items()}
        required = set(self.input_schema.get("required") or ())
        chosen: dict[str, Any] = {}
        for key, value in given.items():
            name = names.get(key, key)
            if value is None and name not in required:
                continue
            chosen[name] = value
        return chosen


def _plain_field_name(name: str) -> bool:
    return (
        bool(name)
        and not name.startswith("_")
        and not name.startswith("model_")
        and (not keyword.iskeyword(name))
    )


def _class_name(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_") if part)


class PluginTools:
    """The API tools of the plugins one client knows, by tool name.

    Args:
        client: the client the tools list and call through (`list_api_tools`,
            `call_api_tool`).
        face: who calls, for the audit trail: "mcp", "langchain", "crewai".
    """

    def __init__(self, client: AsyncMockLoopClient, *, face: str) -> None:
        self.client = client
        self.face = face
        self._tools: dict[str, PluginTool] = {}
        self._discovered = False
        self._lock = asyncio.Lock()

    def tools(self) -> list[PluginTool]:
        """The tools loaded so far, plugin by plugin, in each API's document order."""
        return list(self._tools.values())

    def serves(self, name: str) -> bool:
        """Whether `name` is a plugin tool loaded so far."""
        return name in self._tools

    async def register(self, plugin_name: str) -> list[str]:
        """(Re)load one plugin's tools; returns their names.

        Raises:
            MockLoopError: the plugin is unknown or does not answer.
        """
        with using_face(self.face):
            listed = await self.client.list_api_tools(plugin_name=plugin_name)
        fresh = {
            str(entry["name"]): PluginTool(
                name=str(entry["name"]),
                plugin_name=plugin_name,
                operation_id=str(entry["operation_id"]),
                method=str(entry["method"]).upper(),
                summary=str(entry["description"]),
                input_schema=dict(entry["input_schema"]),
            )
            for entry in listed.tools
        }
        kept = {n: t for n, t in self._tools.items() if t.plugin_name != plugin_name}
        self._tools = {**kept, **fresh}
        return list(fresh)

    async def discover(self) -> None:
        """Load the tools of every recorded plugin that answers (once per provider)."""
        from mockloop.proxy.plugins import list_plugins
        from mockloop.settings import using_home

        async with self._lock:
            if self._discovered:
                return
            self._discovered = True
            with using_home(self.client.settings.home):
                records = await asyncio.to_thread(list_plugins)
            for record in records:
                name = str(record["plugin_name"])
                try:
                    await self.register(name)
                except MockLoopError as exc:  # not running any more: no tools for it
                    logger.info("plugin %s has no tools now: %s", name, exc)

    async def refresh_after(self, op: OperationSpec, result: Any) -> list[str]:
        """After operation `op` returned `result`: when `op` adds API tools (its tag
        "adds_api_tools"), load the new plugin's tools; returns the names loaded."""
        if ADDS_API_TOOLS not in op.tags:
            return []
        if isinstance(result, dict):
            plugin_name = result.get("plugin_name")
        else:
            plugin_name = getattr(result, "plugin_name", None)
        if not plugin_name:
            return []
        return await self.register(str(plugin_name))

    async def call(
        self, name: str, arguments: dict[str, Any] | None, session_id: str | None = None
    ) -> ApiCallResult:
        """Call plugin tool `name` through its plugin (the plugin's mode decides who answers).

        Raises:
            ConfigError: no plugin serves `name`, or the arguments do not fit its schema.
            MockLoopError: the plugin does not answer.
        """
        if name not in self._tools:
            await self.discover()
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none (start one with create_mcp_plugin)"
            raise ConfigError(f"unknown plugin API tool {name!r}; the plugin tools are: {known}")
        with using_face(self.face, session_id):
            return await self.client.call_api_tool(
                tool_name=name, arguments=dict(arguments or {}), plugin_name=tool.plugin_name
            )
