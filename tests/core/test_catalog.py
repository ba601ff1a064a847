"""The catalog is derived from the client; the twins agree; the public surface is pinned."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import mockloop
from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient, Result
from mockloop.catalog import get_catalog, parse_docstring

ROOT = Path(__file__).resolve().parents[2]

ISSUE_3_OPERATIONS = {
    "generate_mock_api",
    "start_mock_server",
    "stop_mock_server",
    "list_mock_servers",
    "discover_mock_servers",
    "query_mock_logs",
    "manage_mock_data",
}


def test_catalog_lists_every_operation_with_description_and_documented_parameters() -> None:
    catalog = get_catalog()
    assert set(catalog.names()) >= ISSUE_3_OPERATIONS
    for op in catalog:
        assert op.description, f"{op.name} has no first docstring line"
        assert op.description.endswith("."), op.name
        schema = op.parameters_schema
        assert schema["type"] == "object"
        for param in op.parameters:
            assert param.description, f"{op.name}({param.name}) is not documented under Args:"
            assert schema["properties"][param.name]["description"] == param.description
        assert set(schema.get("required", [])) == {p.name for p in op.parameters if p.required}


def test_every_result_is_a_result_model() -> None:
    for op in get_catalog():
        model = op.result_model
        if model is typing.Any:
            pytest.fail(f"{op.name} returns Any: give it a Result model")
        assert inspect.isclass(model) and issubclass(model, Result), op.name


def test_sync_twin_matches_the_async_client() -> None:
    for op in get_catalog():
        async_method = getattr(AsyncMockLoopClient, op.name)
        sync_method = getattr(MockLoopClient, op.name)
        assert inspect.iscoroutinefunction(async_method)
        assert not inspect.iscoroutinefunction(sync_method)
        assert inspect.signature(sync_method) == inspect.signature(async_method), op.name
        assert sync_method.__doc__ == async_method.__doc__, op.name


def test_generated_sync_client_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_sync_client.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_unknown_operation_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown operation 'nope'.*query_mock_logs"):
        get_catalog().get("nope")


def test_arguments_are_validated_against_the_schema() -> None:
    op = get_catalog()["query_mock_logs"]
    assert op.validate_arguments({"server_url": "http://x", "limit": "5"}) == {
        "server_url": "http://x",
        "limit": 5,
    }
    with pytest.raises(ConfigError, match="limit"):
        op.validate_arguments({"server_url": "http://x", "limit": "many"})
    with pytest.raises(ConfigError, match="server_url"):
        op.validate_arguments({})
    with pytest.raises(ConfigError, match="bogus"):
        op.validate_arguments({"server_url": "http://x", "bogus": 1})


def test_select_filters_and_rejects_unknown_names() -> None:
    catalog = get_catalog()
    chosen = catalog.select(include=["query_mock_logs", "manage_mock_data"])
    assert [op.name for op in chosen] == ["query_mock_logs", "manage_mock_data"]
    assert "query_mock_logs" not in [op.name for op in catalog.select(exclude=["query_mock_logs"])]
    with pytest.raises(ConfigError, match="unknown operation"):
        catalog.select(include=["nope"])


def test_docstring_parser_joins_continuation_lines() -> None:
    summary, details, args = parse_docstring(
        """Do a thing.

        More words.

        Args:
            alpha: first line
                and its continuation.
            beta (int): second.

        Returns:
            nothing: ignored.
        """
    )
    assert summary == "Do a thing."
    assert details == "More words."
    assert args == {"alpha": "first line and its continuation.", "beta": "second."}


def test_public_surface_is_pinned() -> None:
    assert mockloop.__all__ == [
        "AsyncMockLoopClient",
        "ConfigError",
        "MockLoopClient",
        "MockLoopError",
        "MockLoopRuntimeError",
        "MockLoopUserError",
        "Result",
        "ScenarioError",
        "ServerError",
        "SpecError",
        "StoreError",
        "VersionConflictError",
        "__version__",
    ]


def test_importing_mockloop_loads_no_agent_framework() -> None:
    code = (
        "import sys, mockloop\n"
        "from mockloop import MockLoopClient\n"
        "from mockloop.catalog import get_catalog\n"
        "get_catalog()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'mcp', 'langchain', 'langchain_core', 'langgraph', 'crewai'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
