"""Plugin API tools reach LangChain: `get_tools()` adds the API tools of the plugins running,
from the core provider, and a call goes through the plugin (its mode answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from mockloop import MockLoopClient
from mockloop.catalog import get_catalog
from mockloop.proxy.results import ApiCallResult
from mockloop_langchain import get_tools
from tests.conftest import PETSTORE


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "args": args, "id": "call-1"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MockLoopClient]:
    with MockLoopClient(home=str(tmp_path / "mockloop")) as client:
        try:
            yield client
        finally:
            for server in client.list_mock_servers().servers:
                client.stop_mock_server(server=server.id)


def test_plugin_api_tools_join_the_tools_and_are_called_through_the_plugin(
    client: MockLoopClient,
) -> None:
    without = [tool.name for tool in get_tools(client)]
    assert without == [op.name for op in get_catalog() if op.kind in ("tool", "prompt")]

    client.create_mcp_plugin(spec_url_or_path=str(PETSTORE), mode="mock", plugin_name="shop")
    listed = {t["name"]: t for t in client.list_api_tools(plugin_name="shop").tools}
    tools = {tool.name: tool for tool in get_tools(client)}
    assert {"shop_getPet", "shop_listPets", "shop_createPet"} <= set(listed) <= set(tools)
    assert [name for name in tools if name.startswith("shop_")] == list(listed)

    get_pet = tools["shop_getPet"]
    assert get_pet.metadata is not None and get_pet.metadata["read_only"] is True
    parameters = convert_to_openai_tool(get_pet)["function"]["parameters"]
    assert parameters == listed["shop_getPet"]["input_schema"]

    message = get_pet.invoke(_call("shop_getPet", {"petId": 12}))
    assert isinstance(message, ToolMessage) and message.status == "success"
    assert isinstance(message.artifact, ApiCallResult)
    assert message.artifact.mode == "mock" and message.artifact.status == 200
    assert "Result JSON: " in str(message.content)

    bad = get_pet.invoke(_call("shop_getPet", {}))
    assert isinstance(bad, ToolMessage) and bad.status == "error"
    assert "ConfigError" in str(bad.content) and "petId" in str(bad.content)
    assert "fix the arguments of shop_getPet" in str(bad.content)

    # Narrowed sets leave them out unless asked; read_only keeps only the GET ones.
    assert [t.name for t in get_tools(client, include=["list_api_tools"])] == ["list_api_tools"]
    assert not any(t.name.startswith("shop_") for t in get_tools(client, plugin_tools=False))
    reading = [t.name for t in get_tools(client, read_only=True) if t.name.startswith("shop_")]
    assert "shop_getPet" in reading and "shop_createPet" not in reading
