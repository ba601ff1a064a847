"""The five prompts as an MCP host fills them: each declares what it requires, renders with
only that, and refuses nothing given with an error naming the argument; refusals and resource
reads are audited under the MCP face."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from pydantic import AnyUrl

from mockloop import AsyncMockLoopClient
from mockloop.catalog import build_catalog, get_catalog, operation
from mockloop.results import Result
from mockloop_mcp import build_server
from tests.conftest import PETSTORE

pytestmark = pytest.mark.anyio

REQUIRED: dict[str, list[str]] = {
    "analyze_openapi_for_testing": ["api_spec"],
    "generate_scenario_config": ["api_spec"],
    "optimize_scenario_for_load": ["base_scenario", "target_load"],
    "generate_error_scenarios": ["api_endpoints"],
    "generate_security_test_scenarios": ["api_spec"],
}
# What a person types into the MCP Inspector's form: strings, only the required fields.
VALUES: dict[str, str] = {
    "api_spec": str(PETSTORE),
    "api_endpoints": "GET /pets, POST /pets",
    "base_scenario": '{"name": "slow", "rules": [{"operation": "listPets", "delay_ms": 50}]}',
    "target_load": "40",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def session_for(client: AsyncMockLoopClient) -> AsyncIterator[ClientSession]:
    server = build_server(client=client)
    async with create_connected_server_and_client_session(server._mcp_server) as session:
        yield session


def _embedded(rendered: Any) -> dict[str, Any]:
    text = rendered.messages[0].content.text
    return json.loads(text.split("```json\n", 1)[1].rsplit("\n```", 1)[0])


def test_the_catalog_says_which_prompt_arguments_are_required() -> None:
    catalog = get_catalog()
    assert {op.name: list(op.prompt_required) for op in catalog if op.kind == "prompt"} == (
        REQUIRED
    )
    # The Python signatures keep their alternatives: endpoints without a description.
    assert not catalog["generate_scenario_config"].parameters[0].required
    assert "api_spec" not in catalog["generate_scenario_config"].args_model.model_json_schema().get(
        "required", []
    )


async def test_every_prompt_renders_with_only_its_required_arguments(tmp_path: Path) -> None:
    async with session_for(AsyncMockLoopClient(home=str(tmp_path))) as session:
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        for name, required in REQUIRED.items():
            declared = [a.name for a in prompts[name].arguments or [] if a.required]
            assert declared == required, name
            rendered = await session.get_prompt(name, {arg: VALUES[arg] for arg in required})
            assert rendered.messages[0].role == "user"
            embedded = _embedded(rendered)
            assert embedded["prompt"] == name and embedded["summary"], name


async def test_error_scenarios_take_all_endpoints_of_a_description(tmp_path: Path) -> None:
    async with session_for(AsyncMockLoopClient(home=str(tmp_path))) as session:
        rendered = await session.get_prompt(
            "generate_error_scenarios", {"api_endpoints": "all", "api_spec": str(PETSTORE)}
        )
        embedded = _embedded(rendered)
        # Every operation of the description, not the word "all".
        assert len(embedded["endpoints"]) == 8 and "GET /pets/{petId}" in embedded["endpoints"]
        with pytest.raises(Exception, match='api_endpoints="all" needs api_spec'):
            await session.get_prompt("generate_error_scenarios", {"api_endpoints": "all"})


async def test_a_prompt_without_its_required_arguments_names_them(tmp_path: Path) -> None:
    client = AsyncMockLoopClient(home=str(tmp_path))
    async with session_for(client) as session:
        for name, required in REQUIRED.items():
            for arguments in ({}, {arg: "  " for arg in required}):
                with pytest.raises(Exception) as raised:
                    await session.get_prompt(name, arguments)
                message = str(raised.value)
                assert f"prompt {name} needs {required[0]} (" in message
                assert f"Its required arguments: {', '.join(required)}" in message
    refused = await client.query_audit_log(outcome="invalid", limit=100)
    assert refused.total == 2 * len(REQUIRED)
    assert {r["face"] for r in refused.records} == {"mcp"}
    assert {r["operation"] for r in refused.records} == set(REQUIRED)
    assert all("needs" in r["error"] for r in refused.records)


async def test_calls_refused_at_validation_are_audited_with_their_arguments(
    tmp_path: Path,
) -> None:
    client = AsyncMockLoopClient(home=str(tmp_path))
    async with session_for(client) as session:
        called = await session.call_tool(
            "query_mock_logs", {"server_url": "http://127.0.0.1:1", "limit": "many", "x": 1}
        )
        assert called.isError
        with pytest.raises(Exception, match="analysis_depth"):
            await session.get_prompt(
                "analyze_openapi_for_testing", {"api_spec": str(PETSTORE), "analysis_depth": "x"}
            )
        secret = await session.call_tool(
            "generate_mock_api", {"spec_url_or_path": "x", "auth_token": "sk-live-abcdef0123456789"}
        )
        assert secret.isError
    records = (await client.query_audit_log(outcome="invalid")).records
    by_operation = {r["operation"]: r for r in records}
    logs = by_operation["query_mock_logs"]
    assert logs["face"] == "mcp" and logs["session_id"]
    assert logs["arguments"] == {"server_url": "http://127.0.0.1:1", "limit": "many", "x": 1}
    assert logs["error_class"] == "ConfigError" and "limit" in logs["error"]
    assert logs["duration_ms"] == 0
    prompt = by_operation["analyze_openapi_for_testing"]
    assert prompt["face"] == "mcp" and prompt["arguments"]["analysis_depth"] == "x"
    assert "sk-live" not in json.dumps(by_operation["generate_mock_api"]["arguments"])


async def test_resource_reads_are_audited_as_the_mcp_face(tmp_path: Path) -> None:
    client = AsyncMockLoopClient(home=str(tmp_path))
    async with session_for(client) as session:
        await session.read_resource(AnyUrl("scenario-pack://index"))
        await session.read_resource(AnyUrl("scenario-pack://security/csrf-attacks"))
    records = (await client.query_audit_log()).records
    faces = {r["operation"]: r["face"] for r in records}
    assert faces == {"list_scenario_packs": "mcp", "get_scenario_pack": "mcp"}


class _Status(Result):
    """A catalog resource's content."""

    text: str

    def summary(self) -> str:
        return self.text


class _ResourceClient(AsyncMockLoopClient):
    @operation(group="demo", read_only=True, kind="resource")
    async def status_page(self) -> _Status:
        """The demo status."""
        return _Status(text="fine")


async def test_catalog_resource_reads_are_audited_as_the_mcp_face(tmp_path: Path) -> None:
    client = _ResourceClient(home=str(tmp_path))
    server = build_server(client=client, catalog=build_catalog(_ResourceClient))
    async with create_connected_server_and_client_session(server._mcp_server) as session:
        read = await session.read_resource(AnyUrl("mockloop://demo/status_page"))
        assert '"text": "fine"' in read.contents[0].text  # type: ignore[union-attr]
    (record,) = (await client.query_audit_log(operation="status_page")).records
    assert record["face"] == "mcp" and record["outcome"] == "ok"


def test_prompt_requires_names_parameters_of_a_prompt() -> None:
    with pytest.raises(TypeError, match="not parameters: \\['nope'\\]"):

        @operation(group="demo", kind="prompt", prompt_requires=("nope",))
        async def one(self: Any, topic: str | None = None) -> None:
            """A prompt."""

    with pytest.raises(TypeError, match="kind='tool'"):

        @operation(group="demo", prompt_requires=("topic",))
        async def two(self: Any, topic: str | None = None) -> None:
            """A tool."""
