"""Generated mock projects: their files, their config, and running them as a user would."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from mockloop import ConfigError, SpecError, __version__
from mockloop.generate import (
    generate_project,
    load_project_config,
    projects_dir,
    with_overrides,
)
from mockloop.mock import MockServer
from mockloop.spec import load_spec
from mockloop.store.registry import Registry
from tests.conftest import FIXTURES, PETSTORE
from tests.waiting import wait_for_health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is killed with its whole group at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(30)


def test_generated_files_and_their_content(tmp_path: Path) -> None:
    project = generate_project(PETSTORE, business_port=9100)

    assert project.name == "mockloop-pet-store"
    assert project.path == projects_dir() / "mockloop-pet-store"
    assert project.path.parent.parent == Path(os.environ["MOCKLOOP_HOME"])
    assert sorted(project.files) == sorted(
        [
            "main.py",
            "openapi.yaml",
            "mockloop.yaml",
            "requirements.txt",
            "Dockerfile",
            "docker-compose.yml",
            ".dockerignore",
            "README.md",
            "k8s/deployment.yaml",
            "k8s/service.yaml",
            "k8s/admin-service.yaml",
            "k8s/kustomization.yaml",
            "k8s/README.md",
        ]
    )
    assert (project.admin_port, project.features["auth"]) == (9101, True)
    # A single-file description is kept byte for byte.
    assert project.spec_file.read_bytes() == PETSTORE.read_bytes()

    main = (project.path / "main.py").read_text()
    assert "app = create_app(config)" in main
    assert "raise SystemExit(main())" in main
    assert "/pets" not in main  # no generated per-route code
    assert (project.path / "requirements.txt").read_text() == f"mockloop=={__version__}\n"

    dockerfile = (project.path / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in dockerfile
    assert "EXPOSE 9100 9101" in dockerfile
    assert '"--host", "0.0.0.0", "--admin-host", "0.0.0.0"' in dockerfile
    compose = yaml.safe_load((project.path / "docker-compose.yml").read_text())
    assert compose["services"]["mock"]["ports"] == ["9100:9100", "127.0.0.1:9101:9101"]
    assert compose["services"]["mock"]["volumes"] == ["mock-data:/app/data"]
    readme = (project.path / "README.md").read_text()
    assert "# MockLoop Pet Store mock API" in readme and "uvicorn main:app --port 9100" in readme
    # Generated files name no package index (spelled in pieces so this file names none).
    index_words = ("py" + "pi", "index" + "-url", "extra-" + "index")
    for name in project.files:
        text = (project.path / name).read_text().lower()
        assert not any(word in text for word in index_words), name

    config = load_project_config(project.path)
    assert config.spec == str(project.spec_file)
    assert (config.port, config.admin_port, config.host, config.admin_host) == (
        9100,
        9101,
        "127.0.0.1",
        "127.0.0.1",
    )
    assert config.data_dir == project.path / "data"
    assert [r["path"] for r in Registry().projects()] == [str(project.path)]


def test_each_flag_reaches_the_config() -> None:
    project = generate_project(
        PETSTORE,
        output_dir_name="all-off",
        auth_enabled=False,
        webhooks_enabled=False,
        admin_ui_enabled=False,
        storage_enabled=False,
        stateful=True,
        business_port=9200,
        admin_port=9300,
    )
    config = load_project_config(project.path / "mockloop.yaml")
    assert (config.auth, config.webhooks, config.admin_ui, config.storage, config.stateful) == (
        False,
        False,
        False,
        False,
        True,
    )
    assert config.admin_port == 9300
    compose = yaml.safe_load((project.path / "docker-compose.yml").read_text())
    assert "volumes" not in compose and "volumes" not in compose["services"]["mock"]
    assert project.features == {
        "auth": False,
        "webhooks": False,
        "admin_ui": False,
        "storage": False,
        "stateful": True,
    }


def _serve(project_path: Path) -> MockServer:
    config = with_overrides(load_project_config(project_path), port=0, admin_port=0)
    return MockServer(config).start()


def test_auth_storage_and_stateful_flags_change_what_is_served() -> None:
    on = generate_project(PETSTORE, output_dir_name="on")
    off = generate_project(
        PETSTORE, output_dir_name="off", auth_enabled=False, storage_enabled=False, stateful=True
    )
    server = _serve(on.path)
    try:
        assert httpx.get(f"{server.business_url}/v1/pets").status_code == 401
        assert server.runtime.data_dir == on.path / "data"
        assert (on.path / "data" / "mock.db").is_file()
    finally:
        server.stop()
    server = _serve(off.path)
    try:
        assert httpx.get(f"{server.business_url}/v1/pets").status_code == 200
        temporary = server.runtime.data_dir
        assert not temporary.is_relative_to(off.path)
        created = httpx.post(f"{server.business_url}/v1/pets", json={"name": "Rex"}).json()
        listed = httpx.get(f"{server.business_url}/v1/pets", params={"limit": 100}).json()
        assert created["name"] == "Rex" and created in listed
        assert server.runtime.config.webhooks is True and server.runtime.config.admin_ui is True
    finally:
        server.stop()
    assert not temporary.exists()
    assert not (off.path / "data").exists()


def test_multi_file_description_becomes_one_bundled_file() -> None:
    project = generate_project(FIXTURES / "specs" / "multi" / "api.yaml", output_dir_name="multi")
    assert project.spec_file.name == "openapi.json"
    assert project.warnings and "bundled" in project.warnings[0]
    original = load_spec(FIXTURES / "specs" / "multi" / "api.yaml")
    copied = load_spec(project.spec_file)
    assert [o.operation_id for o in copied.operations] == [
        o.operation_id for o in original.operations
    ]


def test_dict_description_is_written_as_given() -> None:
    document = yaml.safe_load(PETSTORE.read_text())
    project = generate_project(document, output_dir_name="from-dict")
    assert yaml.safe_load(project.spec_file.read_text()) == document


def test_bad_description_writes_nothing() -> None:
    with pytest.raises(SpecError, match="malformed"):
        generate_project(FIXTURES / "specs" / "broken" / "malformed.yaml", output_dir_name="bad")
    with pytest.raises(SpecError, match="file not found"):
        generate_project("missing.yaml", output_dir_name="bad")
    assert not (projects_dir() / "bad").exists()


def test_names_paths_and_existing_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = generate_project(PETSTORE, output_dir_name="./here/pets")
    assert project.path == tmp_path / "here" / "pets"
    with pytest.raises(ConfigError, match="plain name"):
        generate_project(PETSTORE, output_dir_name="a/b")
    # A folder MockLoop made is reused (same inputs); one it did not make is refused.
    assert generate_project(PETSTORE, output_dir_name=str(project.path)).action == "reused"
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "app.py").write_text("theirs")
    with pytest.raises(ConfigError, match=r"not made by MockLoop.*overwrite=True"):
        generate_project(PETSTORE, output_dir_name=str(tmp_path / "theirs"))

    (project.path / "notes.txt").write_text("mine")
    (project.path / "main.py").write_text("edited")
    document = yaml.safe_load(PETSTORE.read_text())
    again = generate_project(
        document, output_dir_name=str(project.path), business_port=7000, overwrite=True
    )
    assert (project.path / "notes.txt").read_text() == "mine"
    assert "create_app" in (project.path / "main.py").read_text()
    assert load_project_config(again.path).port == 7000
    with pytest.raises(ConfigError, match="business port"):
        generate_project(PETSTORE, output_dir_name="same", business_port=7000, admin_port=7000)
    with pytest.raises(ConfigError, match="no such project"):
        load_project_config(tmp_path / "nowhere")


def test_python_main_py_serves_both_ports(processes: list[subprocess.Popen[bytes]]) -> None:
    project = generate_project(PETSTORE, output_dir_name="run-main")
    port, admin_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "main.py", "--port", str(port), "--admin-port", str(admin_port)],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes.append(process)
    admin = wait_for_health(f"http://127.0.0.1:{admin_port}", process)
    assert admin["service"] == "mockloop-admin"
    assert admin["business_url"] == f"http://127.0.0.1:{port}"
    business = httpx.get(f"http://127.0.0.1:{port}/health").json()
    assert business["admin_url"] == f"http://127.0.0.1:{admin_port}"
    assert _stop(process) == 0
    output = process.stdout.read().decode() if process.stdout else ""
    assert f"http://127.0.0.1:{port}" in output


def test_uvicorn_main_app_serves_business_and_configured_admin_port(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    port, admin_port = _free_port(), _free_port()
    project = generate_project(
        PETSTORE, output_dir_name="run-uvicorn", business_port=port, admin_port=admin_port
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes.append(process)
    admin = wait_for_health(f"http://127.0.0.1:{admin_port}", process)
    assert admin["service"] == "mockloop-admin"
    assert httpx.get(f"http://127.0.0.1:{port}/v1/status").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{port}/health").json()["service"] == "mockloop"
    # uvicorn's own command re-raises SIGTERM after its graceful shutdown, which flushed
    # the request log into the project's data folder.
    assert _stop(process) in (0, -signal.SIGTERM)
    with sqlite3.connect(project.path / "data" / "mock.db") as db:
        paths = [row[0] for row in db.execute("SELECT path FROM request_log")]
    assert "/v1/status" in paths
