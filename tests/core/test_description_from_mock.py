"""`api_spec=` (and every other description argument) may be a running mock's URL: the client
loads the description the mock serves; any other URL is a description's URL, and a bare URL
that is neither says so."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mockloop import MockLoopClient, SpecError
from mockloop.mock import MockConfig, MockServer
from mockloop.operations.services.work import load_any_description
from tests.conftest import PETSTORE


class _Page(BaseHTTPRequestHandler):
    """A web server that is no mock: HTML at /, 404 elsewhere."""

    def do_GET(self) -> None:
        if self.path == "/":
            body = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False)
    with MockServer(config) as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_mock_url_stands_for_its_description(mock: MockServer) -> None:
    for url in (mock.business_url, f"{mock.business_url}/", mock.admin_url):
        assert url is not None
        spec = load_any_description(url, [])
        assert spec.title == "MockLoop Pet Store"
        assert "getPet" in {op.operation_id for op in spec.operations}
        assert spec.source == f"{mock.business_url}/openapi.json"


def test_client_operations_take_a_running_mock_as_api_spec(
    mock: MockServer, tmp_path: Path
) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        analysis = client.analyze_openapi_for_testing(api_spec=mock.business_url)
        assert analysis["api"]["title"] == "MockLoop Pet Store"
        assert len(analysis["operations"]) == 8
        generated = client.generate_scenario_config(api_spec=mock.admin_url)
        assert generated["api"]["title"] == "MockLoop Pet Store"
        run = client.execute_test_plan(
            server_url=mock.business_url,
            openapi_spec=mock.business_url,
            test_focus="happy_path",
        )
        assert run.status == "passed", run.summary()
        assert run.description_source == f"{mock.business_url}/openapi.json"


def test_a_bare_url_that_is_neither_says_so(web_page: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}"
    with MockLoopClient(home=str(tmp_path)) as client:
        for url, cause in ((web_page, "HTML"), (closed, "cannot fetch")):
            with pytest.raises(SpecError) as caught:
                client.analyze_openapi_for_testing(api_spec=url)
            message = str(caught.value)
            assert message.startswith(f"{url}: neither a running MockLoop mock")
            assert cause in message
            assert "give a running mock's URL" in message
            with pytest.raises(SpecError, match="neither a running MockLoop mock"):
                client.execute_test_plan(server_url=url, openapi_spec=url)


def test_a_description_url_with_a_path_keeps_its_own_error(web_page: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_any_description(f"{web_page}/spec.yaml", [])
    assert "neither" not in str(caught.value)
    assert "404" in str(caught.value)


def test_paths_dicts_and_text_load_as_before() -> None:
    assert load_any_description(str(PETSTORE), []).title == "MockLoop Pet Store"
    assert load_any_description(PETSTORE, []).title == "MockLoop Pet Store"
    text = (
        "openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"
        "paths: {/a: {get: {responses: {'200': {description: ok}}}}}\n"
    )
    assert load_any_description(text, []).title == "T"


def test_generate_mock_api_copies_the_description_a_running_mock_serves(
    mock: MockServer, tmp_path: Path
) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        project = client.generate_mock_api(
            spec_url_or_path=mock.business_url, output_dir_name="copy", start=False
        )
        copied = load_any_description(str(Path(project.project_path) / "openapi.json"), [])
        assert copied.title == "MockLoop Pet Store" and len(copied.operations) == 8
