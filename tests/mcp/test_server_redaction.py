"""MCP reply text goes through the shared redaction: tool summaries, errors, prompts, resources.
Structured content is the typed result itself, exact (operations redact at their source)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import TextContent

from mockloop import AsyncMockLoopClient, ConfigError
from mockloop.catalog import build_catalog, operation
from mockloop.redaction import REDACTED
from mockloop.results import Result
from mockloop_mcp import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Echo(Result):
    target: str
    note: str

    def summary(self, limit: int = 600) -> str:
        return self.note[:limit]


_HISTOGRAM = "HISTFAAAACl4nJNpmSzMwMDAyAABzFCaEUwzzS/+YNE5"
_PAGE = {
    "rows": [{"id": "it_1", "business_name": "Acme", "ssn_verified": True}],
    "next_page_token": "p2-abc",
    "total_tokens": 12,
    "histogram": _HISTOGRAM + "AbC+secretToken==",
    "variables": {"auth_token": "Bearer abc123def456", "code": "US"},
}


class _Page(Result):
    rows: list[dict[str, Any]]
    next_page_token: str
    total_tokens: int
    histogram: str
    variables: dict[str, str]

    def summary(self, limit: int = 600) -> str:
        return f"{len(self.rows)} item(s); stored auth_token: {self.variables['auth_token']}"


class _LeakyClient(AsyncMockLoopClient):
    @operation(group="demo", read_only=True)
    async def page_of_items(self) -> _Page:
        """Return a page of items with the data an agent acts on."""
        return _Page.model_validate(_PAGE)

    @operation(group="demo", read_only=True)
    async def echo_target(self, url: str) -> _Echo:
        """Echo a URL back in the reply.

        Args:
            url: the URL to echo.
        """
        return _Echo(target=url, note=f"called {url} with Authorization: Bearer SECRET123")

    @operation(group="demo", read_only=True)
    async def fail_loudly(self, url: str) -> _Echo:
        """Fail with a message quoting the URL.

        Args:
            url: the URL the error quotes.
        """
        raise ConfigError(f"cannot reach {url}")

    @operation(group="demo", read_only=True, kind="resource")
    async def leaky_resource(self) -> _Echo:
        """A resource holding a secret field."""
        return _Echo(target="https://u:pw123@h.test/x", note="api_key=RES999")


@asynccontextmanager
async def session() -> AsyncIterator[ClientSession]:
    server = build_server(client=_LeakyClient(), catalog=build_catalog(_LeakyClient))
    async with create_connected_server_and_client_session(server._mcp_server) as connected:
        yield connected


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_tool_and_error_text_is_redacted() -> None:
    url = "https://user:pw123@api.test/cb?access_token=TOK456&page=2"
    async with session() as connected:
        ok = await connected.call_tool("echo_target", {"url": url})
        failed = await connected.call_tool("fail_loudly", {"url": url})
        resources = (await connected.list_resources()).resources
        [leaky] = [r for r in resources if r.name == "leaky_resource"]
        read = await connected.read_resource(leaky.uri)
    text = _text(ok)
    assert not ok.isError and "page=2" in text and REDACTED in text
    assert failed.isError and "cannot reach" in _text(failed)
    resource_text = read.contents[0].text  # type: ignore[union-attr]
    for reply in (text, _text(failed), resource_text):
        for secret in ("pw123", "TOK456", "SECRET123", "RES999"):
            assert secret not in reply, (secret, reply)


async def test_structured_content_is_the_exact_result_and_only_text_is_redacted() -> None:
    """Ids, page tokens, counts, histograms and the variables an agent stored come back as the
    client returns them (and valid for the output schema); the summary text is redacted."""
    url = "https://user:pw123@api.test/cb?access_token=TOK456&page=2"
    async with session() as connected:
        page = await connected.call_tool("page_of_items", {})
        echoed = await connected.call_tool("echo_target", {"url": url})
    assert not page.isError
    assert page.structuredContent == _PAGE
    assert "abc123def456" not in _text(page) and REDACTED in _text(page)
    # The typed result holds what the caller itself passed; the reply text does not.
    assert echoed.structuredContent is not None and echoed.structuredContent["target"] == url
    assert "pw123" not in _text(echoed) and "TOK456" not in _text(echoed)
