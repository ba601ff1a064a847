"""`generate_mock_api` through the client: every flag changes what the started mock serves."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from mockloop import MockLoopClient, SpecError
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
