"""Plugin API tools and role marks reach CrewAI: `get_tools()` adds the API tools of the
plugins running (from the core provider), and a crew role's tools are the operations marked
with it. CrewAI is imported inside the tests, after conftest.py has given them a temporary
HOME."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockloop import AsyncMockLoopClient, MockLoopClient
from mockloop.catalog import build_catalog, get_catalog, operation
from mockloop.results import Result
from tests.conftest import PETSTORE


def _text(result: Any) -> str:
    message = getattr(result, "as_agent_message", None)
    return str(message()) if callable(message) else str(result)


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
    from mockloop_crewai import get_tools
    from mockloop_crewai.tools import PluginApiTool

    client.create_mcp_plugin(spec_url_or_path=str(PETSTORE), mode="mock", plugin_name="shop")
    listed = {t["name"]: t for t in client.list_api_tools(plugin_name="shop").tools}
    tools = {tool.name: tool for tool in get_tools(client)}
    assert {"shop_getPet", "shop_listPets", "shop_createPet"} <= set(listed) <= set(tools)

    get_pet = tools["shop_getPet"]
    assert isinstance(get_pet, PluginApiTool) and get_pet.read_only
    schema = get_pet.args_schema.model_json_schema(by_alias=True)
    assert schema["required"] == listed["shop_getPet"]["input_schema"]["required"]
    assert set(schema["properties"]) == set(listed["shop_getPet"]["input_schema"]["properties"])

    text = get_pet.run(petId=12)
    assert isinstance(text, str) and "Result JSON: " in text and '"mode": "mock"' in text
    assert asyncio.run(get_pet.arun(petId=7)).count('"status": 200') == 1

    missing = tools["shop_listPets"].run(limit="many")
    assert _text(missing).startswith("Error: ConfigError:") and "limit" in _text(missing)

    audit = client.query_audit_log(face="crewai", operation="call_api_tool")
    assert len(audit.records) == 3
    assert not any(t.name.startswith("shop_") for t in get_tools(client, plugin_tools=False))
    assert [t.name for t in get_tools(client, include=["list_api_tools"])] == ["list_api_tools"]


class _CrewClient(AsyncMockLoopClient):
    """The real client plus a new operation marked for the security role."""

    @operation(group="security", read_only=True, roles=("security",))
    async def list_security_findings(self) -> Result:
        """List the findings of every security test run."""
        return Result()


def test_a_new_operation_marked_with_a_role_joins_that_roles_tools(
    client: MockLoopClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mockloop_crewai.tools as crew_tools

    catalog = build_catalog(_CrewClient)
    monkeypatch.setattr(crew_tools, "get_catalog", lambda: catalog)
    security = [tool.name for tool in crew_tools.get_role_tools("security", client)]
    before = [op.name for op in get_catalog().select(kind=None, roles=["security"])]
    assert sorted(security) == sorted([*before, "list_security_findings"])
    crew = crew_tools.get_crew_tools(client)
    assert "list_security_findings" in {t.name for t in crew["security"]}
    assert "list_security_findings" not in {t.name for t in crew["performance"]}
