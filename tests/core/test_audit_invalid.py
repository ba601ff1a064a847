"""Calls refused at argument validation are audited (outcome "invalid"), on every face."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from mockloop import AsyncMockLoopClient, ConfigError
from mockloop.catalog import get_catalog
from mockloop.tools.calls import OperationCaller


def test_python_arguments_the_signature_cannot_take_are_audited_invalid(tmp_path: Path) -> None:
    async def main() -> list[dict]:
        async with AsyncMockLoopClient(home=str(tmp_path)) as client:
            with pytest.raises(TypeError):
                await client.list_mock_servers(bogus=True)  # type: ignore[call-arg]
            await client.list_mock_servers()
            return (await client.query_audit_log(operation="list_mock_servers")).records

    ok, refused = asyncio.run(main())  # newest first
    assert (ok["outcome"], refused["outcome"]) == ("ok", "invalid")
    assert refused["face"] == "python" and refused["arguments"] == {"args": [], "bogus": True}
    assert refused["error_class"] == "TypeError" and "bogus" in refused["error"]


def test_an_adapter_refusal_is_audited_under_its_face(tmp_path: Path) -> None:
    client = AsyncMockLoopClient(home=str(tmp_path))
    caller = OperationCaller(client, face="crewai")
    op = get_catalog()["query_mock_logs"]
    with pytest.raises(ConfigError, match="limit"):
        caller.validate(op, {"server_url": "http://127.0.0.1:1", "limit": "many"})
    assert caller.validate(op, {"server_url": "http://127.0.0.1:1"}) == {
        "server_url": "http://127.0.0.1:1"
    }
    # A framework's own validation (LangChain validates against args_schema itself).
    with pytest.raises(ValidationError) as raised:
        op.args_model.model_validate({"limit": "lots", "token": "sk-live-abcdef0123456789"})
    langchain = OperationCaller(client, face="langchain")
    text = langchain.rejected(op, raised.value)
    assert text.startswith("ConfigError: invalid arguments for query_mock_logs")

    async def records() -> list[dict]:
        return (await client.query_audit_log(outcome="invalid")).records

    by_face = {r["face"]: r for r in asyncio.run(records())}
    assert set(by_face) == {"crewai", "langchain"}
    crewai = by_face["crewai"]
    assert crewai["arguments"] == {"server_url": "http://127.0.0.1:1", "limit": "many"}
    assert crewai["operation"] == "query_mock_logs" and "limit" in crewai["error"]
    quoted = by_face["langchain"]["arguments"]
    assert quoted["limit"] == "lots" and "server_url" in quoted
    assert quoted["token"] == "[REDACTED]"
