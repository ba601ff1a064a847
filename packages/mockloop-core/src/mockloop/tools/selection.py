"""Which operations a face exposes as tools: by name, group, role, tag or read-only flag.

Every face selects through here, so the same filters mean the same tools everywhere.
Operations of kind "tool" and "prompt" become tools (agents call prompts as tools too);
resources, fixed documents rather than actions, become tools only when named in `include`.
A role's tools are the operations whose mark lists that role (`@operation(roles=...)`).
The plugins' API tools (`mockloop.tools.plugins`) join a tool set unless it is narrowed to
named operations, groups, roles or tags.
"""

from __future__ import annotations

from mockloop.operation import ROLES, Catalog, OperationSpec, Role
from mockloop.tools.plugins import PluginTool

__all__ = [
    "TOOL_KINDS",
    "choose_tools",
    "role_operations",
    "roles_of",
    "select_operations",
    "select_plugin_tools",
    "wants_plugin_tools",
]

TOOL_KINDS = ("tool", "prompt")
"""Operation kinds that become tools by default; resources only when named in `include`."""


def select_operations(
    catalog: Catalog,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    groups: list[str] | None = None,
    roles: list[str] | None = None,
    tags: list[str] | None = None,
    read_only: bool | None = None,
) -> list[OperationSpec]:
    """The operations a face exposes as tools, in catalog order.

    Args:
        catalog: the catalog to choose from.
        include: only these operations (resources are exposed only when named here).
        exclude: every operation but these.
        groups: only operations of these capabilities ("mock", "load", ...).
        roles: only operations serving one of these agent roles.
        tags: only operations carrying one of these tags.
        read_only: only read-only operations (True) or only those that change something
            (False).

    Raises:
        ConfigError: an unknown operation name, role or tag (the known ones are listed).
    """
    chosen = catalog.select(
        include=include,
        exclude=exclude,
        groups=groups,
        roles=roles,
        tags=tags,
        read_only=read_only,
        kind=None,
    )
    named = set(include or ())
    return [op for op in chosen if op.kind in TOOL_KINDS or op.name in named]


def role_operations(catalog: Catalog, role: str) -> list[OperationSpec]:
    """The operations of one agent role, in catalog order.

    Raises:
        ConfigError: `role` is not one of `ROLES` (they are listed).
    """
    return catalog.select(roles=[role], kind=None)


def roles_of(catalog: Catalog) -> dict[Role, tuple[str, ...]]:
    """Every role with the names of its operations, {role: names}, roles in `ROLES` order."""
    return {role: tuple(op.name for op in role_operations(catalog, role)) for role in ROLES}


def wants_plugin_tools(
    plugin_tools: bool | None,
    *,
    include: list[str] | None = None,
    groups: list[str] | None = None,
    roles: list[str] | None = None,
    tags: list[str] | None = None,
) -> bool:
    """Whether a tool set gets the plugins' API tools: as asked, or by default (None) unless
    the set is narrowed to named operations, groups, roles or tags (plugin tools have none)."""
    if plugin_tools is not None:
        return plugin_tools
    return include is None and groups is None and roles is None and tags is None


def choose_tools(
    catalog: Catalog,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    groups: list[str] | None = None,
    roles: list[str] | None = None,
    tags: list[str] | None = None,
    read_only: bool | None = None,
    plugin_tools: bool | None = None,
) -> tuple[list[OperationSpec], bool]:
    """What a face's `get_tools(...)` asks for: the operations (`select_operations`) and
    whether the plugins' API tools join them (`wants_plugin_tools`)."""
    operations = select_operations(
        catalog,
        include=include,
        exclude=exclude,
        groups=groups,
        roles=roles,
        tags=tags,
        read_only=read_only,
    )
    narrowed = {"include": include, "groups": groups, "roles": roles, "tags": tags}
    return operations, wants_plugin_tools(plugin_tools, **narrowed)


def select_plugin_tools(tools: list[PluginTool], read_only: bool | None = None) -> list[PluginTool]:
    """The plugin tools a tool set gets: all, or only those whose HTTP method is (or is not)
    read-only."""
    return [tool for tool in tools if read_only is None or tool.read_only == read_only]
