"""`mockloop serve` as a user runs it: a real process, real ports, SIGTERM at the end."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockloop.errors import ConfigError
from tests.conftest import PETSTORE
from tests.waiting import wait_for_health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_prints_urls_and_flushes_on_stop(tmp_path: Path, stop: signal.Signals) -> None:
    port, admin_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockloop.cli",
            "serve",
            str(PETSTORE),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            "--data-dir",
            str(tmp_path),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_health(f"http://127.0.0.1:{admin_port}", process)
        for i in range(50):
            httpx.get(f"http://127.0.0.1:{port}/pets/{i}", headers={"X-API-Key": "k"})
    finally:
        process.send_signal(stop)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert f"http://127.0.0.1:{admin_port}" in output
    with sqlite3.connect(tmp_path / "mock.db") as db:
        (count,) = db.execute(
            "select count(*) from request_log where path like '/pets/%'"
        ).fetchone()
    assert count == 50


def test_bad_spec_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths:\n  /a: [unclosed\n")
    result = _serve(str(broken), "--port", "0")
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr
    assert "Traceback" not in result.stderr
    missing = _serve(str(tmp_path / "nope.yaml"), "--port", "0")
    assert missing.returncode == 2
    assert "nope.yaml" in missing.stderr


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(str(PETSTORE), "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"{port}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("mockloop ")


def test_serve_starts_with_the_collector_off_and_leaves_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from mockloop.cli import main as cli_main

    during: list[bool] = []

    def fake_serve(config: object, on_ready: object = None) -> int:
        during.append(gc.isenabled())
        raise ConfigError("stopped here")

    monkeypatch.setattr("mockloop.mock.serve", fake_serve)
    assert gc.isenabled()
    assert cli_main(["serve", str(PETSTORE)]) == 2
    assert during == [False]
    assert gc.isenabled()  # on again whatever the handler did
