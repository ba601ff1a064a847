"""A `MockLoopClient` operation read on a client is a bound operation: the method when called,
and a tool (name, description, args_schema, func) when handed to an agent framework."""

from __future__ import annotations

import inspect

import pytest

from mockloop import ConfigError, MockLoopClient
from mockloop.bound.operation import BlockingOperation, BoundOperation
from mockloop.catalog import get_catalog


@pytest.fixture
def client() -> MockLoopClient:
    with MockLoopClient() as made:
        yield made  # type: ignore[misc]


def test_a_bound_operation_is_the_method_when_called(client: MockLoopClient) -> None:
    bound = client.list_mock_servers
    assert isinstance(bound, BoundOperation)
    assert client.list_mock_servers is bound  # made once per client
    assert bound().running == 0
    assert list(inspect.signature(bound).parameters) == ["include_stopped"]
    assert bound.__name__ == "list_mock_servers"
    assert bound.__doc__ == MockLoopClient.list_mock_servers.__doc__
    with pytest.raises(ConfigError, match="timeout=0"):
        client.execute_test_plan(server_url="http://127.0.0.1:9", timeout=0)


def test_on_the_class_it_is_the_method(client: MockLoopClient) -> None:
    method = MockLoopClient.list_mock_servers
    assert isinstance(method, BlockingOperation)
    assert method(client).running == 0


def test_a_bound_operation_carries_what_tool_validation_looks_for(client: MockLoopClient) -> None:
    bound = client.run_load_test
    spec = get_catalog()["run_load_test"]
    assert bound.name == "run_load_test"
    assert bound.description.startswith(spec.description)
    assert bound.args_schema is spec.args_model
    assert callable(bound.func)
    # CrewAI's tool dict: its own tool class builds itself from the operation and client.
    assert bound["tool_type"] == "mockloop_crewai.tools.MockLoopTool"
    assert bound["mockloop_operation"] == "run_load_test" and bound.client is client
    assert bound == bound and bound != client.list_mock_servers
    assert {bound: 1}[bound] == 1


def test_func_answers_with_text_and_errors_as_text(client: MockLoopClient) -> None:
    text = client.list_mock_servers.func(include_stopped=False)
    assert text.endswith('Result JSON: {"servers": [], "running": 0, "stale": 0}')
    error = client.run_load_test.func(server_url="http://example.invalid", duration=1)
    assert error.startswith("Error: ConfigError: load tests may only target loopback hosts")
    assert "fix the arguments of run_load_test" in error
    refused = client.run_load_test.func(server_url="http://127.0.0.1:9", duration="long")
    assert refused.startswith("Error: ConfigError: invalid arguments for run_load_test: duration")
    audited = client.query_audit_log(operation="run_load_test")
    assert any(record["outcome"] == "invalid" for record in audited.records)
