"""`generate_mock_api` through the client: every flag changes what the started mock serves."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from mockloop import ConfigError, MockLoopClient, ServerError, SpecError
from mockloop.mock import MockConfig, MockServer
from mockloop.servers.models import GeneratedMock
from tests.conftest import PETSTORE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flags_off_change_what_is_served(tmp_path: Path) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        mock = client.generate_mock_api(
            str(PETSTORE),
            output_dir_name="all_off",
            auth_enabled=False,
            webhooks_enabled=False,
            admin_ui_enabled=False,
            storage_enabled=False,
            stateful=True,
            business_port=_free_port(),
            admin_port=_free_port(),
        )
        try:
            api, admin = mock.business_url, mock.admin_url
            assert api and admin and mock.pid
            assert httpx.get(f"{api}/v1/pets").status_code == 200  # auth off: no 401
            assert httpx.get(f"{admin}/api/webhooks").status_code == 404
            page = httpx.get(f"{admin}/")
            assert "disabled" in page.text.lower() and "app.js" not in page.text
            created = httpx.post(f"{api}/v1/pets", json={"name": "Kept"}).json()
            assert httpx.get(f"{api}/v1/pets/{created['id']}").status_code == 200  # stateful
            project = Path(mock.project_path)
            assert not (project / "data").exists()  # storage off: nothing on disk
        finally:
            client.stop_mock_server(mock.server_id or str(mock.pid))


def test_flags_on_serve_auth_webhooks_ui_and_storage(tmp_path: Path) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        mock = client.generate_mock_api(
            str(PETSTORE),
            output_dir_name="all_on",
            business_port=_free_port(),
            admin_port=_free_port(),
        )
        try:
            api, admin = mock.business_url, mock.admin_url
            assert httpx.get(f"{api}/v1/pets").status_code == 401
            assert httpx.get(f"{admin}/api/webhooks").status_code == 200
            assert "app.js" in httpx.get(f"{admin}/").text
            assert (Path(mock.project_path) / "data").is_dir()
        finally:
            client.stop_mock_server(mock.server_id or str(mock.pid))
        assert client.list_mock_servers().running == 0


def test_missing_spec_is_a_spec_error_and_nothing_starts(tmp_path: Path) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        with pytest.raises(SpecError, match=r"missing\.yaml"):
            client.generate_mock_api(str(tmp_path / "missing.yaml"))
        assert client.list_mock_servers(include_stopped=True).servers == []
        assert not (tmp_path / "projects").exists() or not any((tmp_path / "projects").iterdir())


# -- running generate_mock_api again ---------------------------------------------------------


def test_running_twice_reuses_the_project_and_the_server_it_started(tmp_path: Path) -> None:
    port, admin_port = _free_port(), _free_port()
    with MockLoopClient(home=str(tmp_path)) as client:

        def generate(stateful: bool = False) -> GeneratedMock:
            return client.generate_mock_api(
                str(PETSTORE),
                output_dir_name="again",
                business_port=port,
                admin_port=admin_port,
                stateful=stateful,
            )

        first = generate()
        try:
            assert first.project_action == "created" and not first.reused_server
            marker = Path(first.project_path) / ".mockloop-project.json"
            assert marker.is_file()
            second = generate()
            assert second.project_action == "reused" and second.reused_server
            assert (second.pid, second.business_url) == (first.pid, first.business_url)
            assert "reused it" in second.notices[0]
            assert client.list_mock_servers().running == 1

            # Other inputs: the project is regenerated and the mock it ran restarted.
            third = generate(stateful=True)
            assert third.project_action == "regenerated" and not third.reused_server
            assert third.pid != first.pid and third.business_url == first.business_url
            assert f"stopped the mock {first.server_id}" in third.notices[0]
            assert not Path(f"/proc/{first.pid}").exists()
            created = httpx.post(
                f"{third.business_url}/v1/pets",
                json={"name": "Kept"},
                headers={"Authorization": "Bearer t"},
            )
            assert created.status_code == 201  # stateful now
            listed = httpx.get(f"{third.business_url}/v1/pets", headers={"X-API-Key": "k"})
            assert "Kept" in [pet["name"] for pet in listed.json()]
        finally:
            for server in client.list_mock_servers().servers:
                client.stop_mock_server(server.id)
        assert client.list_mock_servers().running == 0


def test_without_start_the_project_alone_is_reused_or_regenerated(tmp_path: Path) -> None:
    with MockLoopClient(home=str(tmp_path)) as client:
        first = client.generate_mock_api(str(PETSTORE), output_dir_name="files", start=False)
        main = Path(first.project_path) / "main.py"
        main.write_text(main.read_text() + "# my note\n")
        same = client.generate_mock_api(str(PETSTORE), output_dir_name="files", start=False)
        assert same.project_action == "reused" and not same.started
        assert main.read_text().endswith("# my note\n")  # nothing rewritten
        other = client.generate_mock_api(
            str(PETSTORE), output_dir_name="files", start=False, auth_enabled=False
        )
        assert other.project_action == "regenerated"
        assert not main.read_text().endswith("# my note\n")
        assert "auth: false" in (Path(first.project_path) / "mockloop.yaml").read_text()
        assert client.list_mock_servers(include_stopped=True).servers == []


def test_a_folder_mockloop_did_not_make_is_refused_unless_overwrite(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "app.py").write_text("print('theirs')")
    with MockLoopClient(home=str(tmp_path)) as client:
        with pytest.raises(ConfigError) as caught:
            client.generate_mock_api(str(PETSTORE), output_dir_name=str(theirs), start=False)
        message = str(caught.value)
        assert "not made by MockLoop" in message and "overwrite=True" in message
        assert sorted(p.name for p in theirs.iterdir()) == ["app.py"]
        replaced = client.generate_mock_api(
            str(PETSTORE), output_dir_name=str(theirs), start=False, overwrite=True
        )
        assert replaced.project_action == "overwritten"
        assert (theirs / "app.py").read_text() == "print('theirs')"
        assert (theirs / ".mockloop-project.json").is_file()


def test_a_busy_explicit_port_says_so_and_leaves_nothing_that_blocks_the_retry(
    tmp_path: Path,
) -> None:
    """A server MockLoop did not start holds the port: it is named busy and left alone."""
    busy = MockServer(MockConfig.build(spec=str(PETSTORE), port=0, storage=False))
    busy.start()
    port = int(busy.business_url.rsplit(":", 1)[1])
    admin_port = _free_port()
    with MockLoopClient(home=str(tmp_path)) as client:

        def generate() -> GeneratedMock:
            return client.generate_mock_api(
                spec_url_or_path=str(PETSTORE),
                output_dir_name="ai_test_environment",
                business_port=port,
                admin_port=admin_port,
            )

        try:
            with pytest.raises(ServerError) as caught:
                generate()
            message = str(caught.value)
            assert f"port {port} on 127.0.0.1 is in use" in message
            assert "business_port=" in message and "0 picks any free port" in message
            assert httpx.get(f"{busy.business_url}/health").json()["service"] == "mockloop"
            assert client.list_mock_servers(include_stopped=True).servers == []
        finally:
            busy.stop()
        retry = generate()
        try:
            assert retry.project_action == "reused" and retry.started
            assert retry.business_url == f"http://127.0.0.1:{port}"
            assert httpx.get(f"{retry.business_url}/health").json()["service"] == "mockloop"
        finally:
            client.stop_mock_server(retry.server_id or str(retry.pid))
