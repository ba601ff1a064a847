"""Plugin API tools on the MCP server: created at run time, announced with list_changed, and
called through the plugin's mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import ServerNotification, TextContent, ToolListChangedNotification

from mockloop import AsyncMockLoopClient
from mockloop_mcp import build_server
from tests.conftest import PETSTORE
from tests.core.test_proxy import LiveUpstream
from tests.waiting import wait_for_async

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def upstream() -> Iterator[LiveUpstream]:
    with LiveUpstream() as live:
        yield live


@asynccontextmanager
async def plugin_session(
    notifications: list[Any], client: AsyncMockLoopClient | None = None
) -> AsyncIterator[ClientSession]:
    server = build_server(client=client)
    # Catalog and plugin tools are served by the class's own list_tools/call_tool: nothing
    # on the instance replaces FastMCP's handlers.
    assert "list_tools" not in vars(server) and "call_tool" not in vars(server)

    async def on_message(message: Any) -> None:
        if isinstance(message, ServerNotification):
            notifications.append(message.root)

    try:
        async with create_connected_server_and_client_session(
            server._mcp_server, message_handler=on_message
        ) as session:
            yield session
    finally:
        from mockloop.servers import stop_all_servers

        await asyncio.to_thread(stop_all_servers)


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_plugin_operations_appear_as_tools_and_are_called_through_its_mode(
    upstream: LiveUpstream,
) -> None:
    notifications: list[Any] = []
    async with plugin_session(notifications) as session:
        capabilities = session.get_server_capabilities()
        assert capabilities is not None and capabilities.tools is not None
        assert capabilities.tools.listChanged is True
        before = {tool.name for tool in (await session.list_tools()).tools}
        assert "create_mcp_plugin" in before and not any(n.startswith("shop_") for n in before)

        created = await session.call_tool(
            "create_mcp_plugin",
            {
                "spec_url_or_path": str(PETSTORE),
                "mode": "hybrid",
                "plugin_name": "shop",
                "target_url": upstream.url,
                "auth_config": {"auth_type": "bearer_token", "credentials": {"token": "tok-9"}},
                "routing_rules": [{"pattern": "/v1/pets/*", "mode": "proxy", "priority": 10}],
            },
        )
        assert not created.isError, _text(created)
        assert "tok-9" not in _text(created) and "tok-9" not in str(created.structuredContent)
        await wait_for_async(  # the notification may trail the result by a moment
            lambda: any(isinstance(n, ToolListChangedNotification) for n in notifications),
            "the tools/list_changed notification",
        )

        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"shop_getPet", "shop_listPets", "shop_createPet"} <= set(tools)
        get_pet = tools["shop_getPet"]
        assert get_pet.inputSchema["required"] == ["petId"]
        assert get_pet.annotations is not None and get_pet.annotations.readOnlyHint

        proxied = await session.call_tool("shop_getPet", {"petId": 12})
        assert not proxied.isError, _text(proxied)
        assert proxied.structuredContent is not None
        assert proxied.structuredContent["mode"] == "proxy"
        assert proxied.structuredContent["body"]["name"] == "Live 12"
        assert upstream.hits[-1]["headers"]["authorization"] == "Bearer tok-9"

        mocked = await session.call_tool("shop_listPets", {"limit": 2})
        assert mocked.structuredContent is not None
        assert mocked.structuredContent["mode"] == "mock"
        assert upstream.paths() == ["/v1/pets/12"]

        bad = await session.call_tool("shop_getPet", {})
        assert bad.isError and "petId" in _text(bad)
        assert "fix the arguments of shop_getPet and call it again" in _text(bad)

        unknown = await session.call_tool("shop_noSuchThing", {})
        assert unknown.isError and "unknown tool 'shop_noSuchThing'" in _text(unknown)


async def test_running_plugins_are_found_by_a_new_server(upstream: LiveUpstream) -> None:
    client = AsyncMockLoopClient()
    await client.create_mcp_plugin(
        spec_url_or_path=str(PETSTORE), mode="proxy", plugin_name="live", target_url=upstream.url
    )
    notifications: list[Any] = []
    async with plugin_session(notifications, client=client) as session:
        names = [tool.name for tool in (await session.list_tools()).tools]
        assert "live_getStatus" in names
        result = await session.call_tool("live_getStatus", {})
        assert result.structuredContent is not None
        assert result.structuredContent["body"] == {"status": "ok", "version": "live-2.0"}
        assert result.structuredContent["mode"] == "proxy"
