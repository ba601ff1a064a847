"""Fuzzing the MCP server: every tool called with arguments drawn from its own input schema.

One in-memory MCP session (a temporary MOCKLOOP_HOME, HOME and working folder) lists its
tools; for each tool, hypothesis (derandomized, a fixed number of examples) draws arguments
from the tool's `inputSchema`, half of them valid and half deliberately broken (a wrong type,
a required argument missing, an unknown key, a huge string, a negative number). Every call
must come back within a deadline as a result, or as an `isError` result whose text names the
problem: not empty, no traceback, not the "failed inside MockLoop" answer an unexpected
exception gets. After all tools the session still lists its tools.

Nothing leaves 127.0.0.1: every argument that names a URL, host or description location is
drawn from loopback targets (a small mock served for the run, a closed port), every string
that still looks like a URL is pointed at loopback, and file arguments stay in the temporary
folder. Long-running tools get small budgets (durations of 0.1-1 s, a few requests, small
timeouts); mocks the tools start are stopped after each call.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult, TextContent, Tool

from mockloop import AsyncMockLoopClient
from mockloop.catalog import get_catalog
from tests.conftest import FIXTURES

#: Seconds one tool call may take before it counts as a hang.
CALL_DEADLINE_S = 45.0
EXAMPLES = 8
#: Tools that start processes, send traffic or generate projects: fewer examples.
HEAVY_EXAMPLES = 4
TOOL_NAMES = [op.name for op in get_catalog() if op.kind in ("tool", "prompt")]
HEAVY = {op.name for op in get_catalog() if op.long_running} | {
    "start_mock_server",
    "discover_mock_servers",
    "list_active_scenarios",
}
SPEC = FIXTURES / "specs" / "openapi30.yaml"
#: Arguments always drawn (from their hints) when a tool has them: their defaults are budgets
#: for real use (60 s of load, a 30 s timeout, fixed ports) that a fuzz run cannot afford.
BUDGETS = {
    "duration",
    "duration_seconds",
    "timeout",
    "max_requests",
    "business_port",
    "admin_port",
    "background",
    "remote_workers",
    "engine",
}
#: Words an error text must not contain: the shapes of an unexpected exception.
INTERNAL = ("Traceback (most recent call last)", "failed inside MockLoop", "internal error")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a JSON Schema -> hypothesis strategy builder ----------------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=24)
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    _TEXT,
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=8,
)
_FORMATS = {
    "date-time": st.datetimes().map(lambda value: value.isoformat() + "Z"),
}


def from_schema(schema: dict[str, Any], hints: dict[str, st.SearchStrategy[Any]]) -> Any:
    """A strategy for instances of `schema` (the subset of JSON Schema pydantic writes for
    tool arguments: type, enum, anyOf/oneOf, properties, required, additionalProperties,
    items, formats); properties named in `hints` are drawn from the hint instead."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(alt, hints) for alt in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}, hints) for one in kind])
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        return _TEXT
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 100_000))
    if kind == "number":
        return st.floats(
            schema.get("minimum", -1000.0),
            schema.get("maximum", 100_000.0),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), hints)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=3)
    if kind == "object" or "properties" in schema:
        return _object(schema, hints)
    return _JSON


def _object(
    schema: dict[str, Any], hints: dict[str, st.SearchStrategy[Any]], optional: bool = True
) -> Any:
    """Objects of `schema`; without `optional`, only its required properties and BUDGETS."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))

    @st.composite
    def draw_object(draw: st.DrawFn) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or name in BUDGETS or (optional and draw(st.booleans())):
                value[name] = draw(hints[name] if name in hints else from_schema(sub, hints))
        if schema.get("additionalProperties") is True and not properties:
            value.update(draw(st.dictionaries(_TEXT, _JSON, max_size=3)))
        return value

    return draw_object()


# -- what each argument is drawn from, and how arguments are broken -----------------------------


@dataclass(frozen=True)
class Targets:
    """The loopback things the tools may reach during the run."""

    mock_url: str
    admin_url: str
    closed_url: str
    folder: Path


def _loopback(text: str, closed_url: str) -> str:
    """`text` as a path on a closed loopback port (random text never names a real host)."""
    return f"{closed_url}/{quote(text, safe='')}"


def hints_for(targets: Targets) -> dict[str, st.SearchStrategy[Any]]:
    """Argument strategies by parameter name: loopback URLs and descriptions (reachable or
    not, well formed or not), files in the temporary folder, small budgets. Values of the
    wrong type or range come from `broken_arguments`."""
    urls = st.one_of(
        st.just(targets.mock_url),  # first: the live mock, so that calls get past their checks
        st.sampled_from(
            [
                targets.admin_url,
                targets.closed_url,
                f"{targets.mock_url}/",
                "127.0.0.1:1",
                "http://127.0.0.1:99999",
                "ftp://127.0.0.1/x",
                "http://",
                "",
            ]
        ),
        _TEXT.map(lambda text: _loopback(text, targets.closed_url)),
    )
    specs = st.sampled_from(
        [
            str(SPEC),
            str(FIXTURES / "specs" / "swagger2.yaml"),
            str(FIXTURES / "specs" / "broken" / "malformed.yaml"),
            str(FIXTURES / "specs" / "broken" / "ref_loop.yaml"),
            str(targets.folder / "missing.yaml"),
            f"{targets.mock_url}/openapi.json",
            f"{targets.closed_url}/openapi.json",
            "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "{",
        ]
    )
    files = st.sampled_from(
        [
            str(targets.folder / "out" / "report.html"),
            str(targets.folder / "out.jsonl"),
            str(targets.folder),
            "relative-file.txt",
            "./project",
            "",
        ]
    )
    ports = st.builds(_free_port)
    packs = st.one_of(
        st.sampled_from(
            [
                "scenario-pack://error-simulation/5xx-server-errors",
                "scenario-pack://nope/nothing",
                "scenario-pack://",
            ]
        ),
        _TEXT,
    )
    small = st.floats(0.1, 1.0)
    return {
        "server_url": urls,
        "target_url": urls,
        "server_urls": st.lists(urls, max_size=2),
        "spec_url_or_path": specs,
        "api_spec": st.one_of(specs, st.dictionaries(_TEXT, _JSON, max_size=2)),
        "openapi_spec": specs,
        "spec": specs,
        "project_path": files,
        "output_path": files,
        "output_dir_name": files,
        "path": files,
        "allow_hosts": st.lists(st.sampled_from(sorted(LOOPBACK)), max_size=2),
        "master_bind": st.none(),
        "remote_workers": st.just(0),
        "engine": st.just("native"),
        "business_port": ports,
        "admin_port": ports,
        "ports": st.lists(ports, max_size=2),
        "duration": small,
        "duration_seconds": small,
        "timeout": small,
        "ramp_up": st.sampled_from([0, 0.2]),
        "think_time": st.sampled_from([0, 0.05]),
        "timing_delay": st.just(0.05),
        "concurrent_users": st.sampled_from([1, 2]),
        "processes": st.sampled_from([None, 1]),
        "target_rps": st.sampled_from([None, 20.0]),
        "max_requests": st.sampled_from([40, 5, 1]),
        "rate_limit_rps": st.sampled_from([None, 50.0]),
        "burst": st.sampled_from([None, 2]),
        "background": st.just(False),
        "scenario_name": st.one_of(st.sampled_from(["fuzz", "fuzz-2", ""]), _TEXT),
        "scenario_config": st.one_of(
            st.just({"name": "fuzz", "description": "fuzzed", "rules": []}),
            st.dictionaries(_TEXT, _JSON, max_size=3),
            _TEXT,
        ),
        "context_id": st.one_of(st.just("global"), _TEXT),
        "category": st.one_of(st.sampled_from([None, "security", "performance"]), _TEXT),
        "pack_uri": packs,
        "uri": packs,
    }


_WRONG_TYPES = st.sampled_from(
    [None, True, -1, 2.5, "many", [], [1, "x"], {}, {"nested": {"deeper": [None]}}]
)


@st.composite
def broken_arguments(
    draw: st.DrawFn, schema: dict[str, Any], valid: dict[str, Any], closed_url: str
) -> dict[str, Any]:
    """`valid` broken in one way: a wrong type, a required key missing, an unknown key, a
    huge string or a negative number."""
    arguments = dict(valid)
    properties = list(schema.get("properties", {}))
    required = list(schema.get("required", ()))
    ways = ["unknown key"]
    if properties:
        ways += ["wrong type", "huge string", "negative number"]
    if required:
        ways.append("missing required")
    way = draw(st.sampled_from(ways))
    if way == "unknown key":
        arguments[draw(_TEXT.filter(lambda key: key not in properties)) or "_"] = draw(_JSON)
    elif way == "missing required":
        arguments.pop(draw(st.sampled_from(required)), None)
    else:
        name = draw(st.sampled_from(properties))
        if way == "wrong type":
            arguments[name] = draw(_WRONG_TYPES)
        elif way == "huge string":
            arguments[name] = _loopback("x" * 20_000, closed_url)
        else:
            arguments[name] = draw(st.sampled_from([-1, -(2**31), -0.5, -1e308]))
    return arguments


_URLISH = re.compile(r"^(https?|wss?|ftp)://|^//", re.IGNORECASE)


def keep_on_loopback(value: Any, closed_url: str) -> Any:
    """`value` with every string that names a non-loopback URL pointed at a closed loopback
    port instead (random text and nested free-form data included)."""
    if isinstance(value, str):
        if _URLISH.search(value.strip()):
            try:
                host = urlsplit(value.strip()).hostname
            except ValueError:
                host = None
            if host not in LOOPBACK:
                return _loopback(value, closed_url)
        return value
    if isinstance(value, list):
        return [keep_on_loopback(item, closed_url) for item in value]
    if isinstance(value, dict):
        return {
            keep_on_loopback(key, closed_url): keep_on_loopback(item, closed_url)
            for key, item in value.items()
        }
    return value


# -- the session --------------------------------------------------------------------------------


@dataclass
class Harness:
    """The MCP session, reached from synchronous hypothesis tests through a portal."""

    portal: BlockingPortal
    session: ClientSession
    tools: dict[str, Tool]
    targets: Targets
    hints: dict[str, st.SearchStrategy[Any]]

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call tool `name`; TimeoutError after CALL_DEADLINE_S."""

        async def bounded() -> CallToolResult:
            with anyio.fail_after(CALL_DEADLINE_S):
                return await self.session.call_tool(name, arguments)

        return self.portal.call(bounded)


@pytest.fixture(scope="module")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One temporary MOCKLOOP_HOME, HOME and working folder for the whole module (the tools
    see each other's state, as in one agent session)."""
    home = tmp_path_factory.mktemp("fuzz-home")
    work = home / "work" / "here"
    work.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOCKLOOP_HOME", str(home / "mockloop"))
        patch.setenv("HOME", str(home))
        patch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
        patch.setenv("CREWAI_TRACING_ENABLED", "false")
        patch.setenv("OTEL_SDK_DISABLED", "true")
        patch.delenv("MOCKLOOP_ALLOWED_HOSTS", raising=False)
        patch.chdir(work)
        yield home


@pytest.fixture(scope="module")
def harness(_isolated_home: Path) -> Iterator[Harness]:
    from mockloop.mock import MockConfig, MockServer
    from mockloop.servers import stop_all_servers
    from mockloop_mcp import build_server

    mock = MockServer(
        MockConfig(
            spec=str(SPEC), port=0, admin_port=0, data_dir=_isolated_home / "mock", auth=False
        )
    ).start()
    assert mock.admin_url is not None
    targets = Targets(
        mock_url=mock.business_url,
        admin_url=mock.admin_url,
        closed_url=f"http://127.0.0.1:{_free_port()}",
        folder=_isolated_home,
    )
    client = AsyncMockLoopClient(home=str(_isolated_home / "mockloop"))
    server = build_server(client=client)
    try:
        with start_blocking_portal() as portal:
            context = create_connected_server_and_client_session(server._mcp_server)
            with portal.wrap_async_context_manager(context) as session:
                tools = {tool.name: tool for tool in portal.call(session.list_tools).tools}
                yield Harness(portal, session, tools, targets, hints_for(targets))
            portal.call(client.aclose)
    finally:
        stop_all_servers()
        mock.stop()


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _check(name: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    shown = json.dumps(arguments, default=str)[:600]
    text = _text(result)
    # pytest.fail, not assert: the arguments may hold a 20,000 character string.
    if result.isError and not text.strip():
        pytest.fail(f"{name} answered an empty error to {shown}")
    if result.isError and any(word in text for word in INTERNAL):
        pytest.fail(f"{name}({shown}) -> {text[:1500]}")
    if not result.isError and result.structuredContent is None and not text.strip():
        pytest.fail(f"{name}({shown}) answered nothing")


def _arguments(data: st.DataObject, harness: Harness, name: str, kind: str) -> dict[str, Any]:
    """Arguments of tool `name`: "minimal" (the required ones and budgets), "valid" (by the
    schema, optional ones too) or "broken"."""
    schema = harness.tools[name].inputSchema
    drawn = _object(schema, harness.hints, optional=kind != "minimal")
    arguments = data.draw(drawn, label="arguments")
    closed = harness.targets.closed_url
    if kind == "broken":
        arguments = data.draw(broken_arguments(schema, arguments, closed), label="broken")
    return keep_on_loopback(arguments, closed)


def fuzz_tool(harness: Harness, name: str, kind: str, examples: int) -> int:
    """Call tool `name` with `examples` argument sets of `kind` (derandomized); each answer
    must pass `_check`. Mocks a heavy tool started are stopped after each call. Returns the
    number of calls made."""
    from mockloop.servers import stop_all_servers

    calls: list[bool] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def call(data: st.DataObject) -> None:
        arguments = _arguments(data, harness, name, kind)
        try:
            result = harness.call(name, arguments)
        except TimeoutError:
            pytest.fail(f"{name} gave no answer in {CALL_DEADLINE_S} s: {arguments!r:.600}")
        finally:
            if name in HEAVY:
                stop_all_servers()
        _check(name, arguments, result)
        calls.append(result.isError)

    call()
    return len(calls)


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_a_tool_answers_random_arguments_with_a_result_or_a_named_problem(
    harness: Harness, name: str
) -> None:
    assert name in harness.tools, sorted(harness.tools)
    valid, broken = (HEAVY_EXAMPLES, 2) if name in HEAVY else (EXAMPLES, 4)
    calls = fuzz_tool(harness, name, "minimal", 2)
    calls += fuzz_tool(harness, name, "valid", valid)
    calls += fuzz_tool(harness, name, "broken", broken)
    assert calls >= 3, f"{name} was called {calls} times"


def test_the_session_still_serves_after_the_fuzzing(harness: Harness) -> None:
    listed = harness.portal.call(harness.session.list_tools).tools
    assert set(TOOL_NAMES) <= {tool.name for tool in listed}
    answer = harness.call("list_scenario_packs", {})
    assert not answer.isError, _text(answer)
    assert answer.structuredContent is not None


def test_plugin_api_tools_answer_random_arguments(harness: Harness) -> None:
    """The API tools a plugin adds (their schemas come from a description) get the same
    treatment, through the plugin's business port."""
    from mockloop.servers import stop_all_servers

    created = harness.call(
        "create_mcp_plugin",
        {
            "spec_url_or_path": str(SPEC),
            "plugin_name": "fuzzpets",
            "business_port": _free_port(),
            "admin_port": _free_port(),
            "auth_enabled": False,
        },
    )
    try:
        assert not created.isError, _text(created)
        listed = harness.portal.call(harness.session.list_tools).tools
        plugin_tools = {tool.name: tool for tool in listed if tool.name.startswith("fuzzpets_")}
        assert plugin_tools, sorted(tool.name for tool in listed)
        harness.tools.update(plugin_tools)
        for name in sorted(plugin_tools):
            for kind, examples in (("minimal", 2), ("valid", 4), ("broken", 3)):
                assert fuzz_tool(harness, name, kind, examples) >= 1
    finally:
        stop_all_servers()


def test_strategies_stay_on_loopback() -> None:
    closed = "http://127.0.0.1:9"
    moved = keep_on_loopback(
        {"a": ["https://169.254.169.254/latest", "//evil.example/x"], "http://10.0.0.1": 1},
        closed,
    )
    flat = json.dumps(moved)
    assert "169.254" not in urlsplit(moved["a"][0]).netloc
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in moved["a"])
    assert all(urlsplit(key).hostname == "127.0.0.1" for key in moved if "://" in key)
    assert "evil.example" in flat  # kept as path text, not as a host
    assert keep_on_loopback("http://localhost:8000/x", closed) == "http://localhost:8000/x"
