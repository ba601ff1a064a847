"""The pytest plugin, as a user's own test suite uses it (run in a separate pytest process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import PETSTORE

USER_TESTS = """
import httpx
import pytest


@pytest.mark.mockloop(spec=SPEC, auth=False)
def test_my_client_against_the_mock(mockloop_mock):
    answer = httpx.get(f"{mockloop_mock.url}/v1/pets/7", headers={"X-Session-ID": "mine"})
    assert answer.status_code == 200
    assert answer.json()["id"]
    [record] = mockloop_mock.requests()
    assert (record["method"], record["path"], record["status"]) == ("GET", "/v1/pets/7", 200)
    assert record["session_id"] == "mine"
    assert mockloop_mock.analyze()["count"] == 1


@pytest.mark.mockloop(SPEC)
def test_auth_is_simulated_by_default(mockloop_mock):
    assert httpx.get(f"{mockloop_mock.url}/v1/pets").status_code == 401


def test_factory_serves_two_mocks_with_controls(mockloop_serve):
    first = mockloop_serve(SPEC, auth=False)
    second = mockloop_serve(SPEC, auth=False, seed=7)
    assert first.url != second.url
    first.set_response("getPet", {"status": 418})
    assert httpx.get(f"{first.url}/v1/pets/1").status_code == 418
    assert httpx.get(f"{second.url}/v1/pets/1").status_code == 200
    second.use_scenario({"name": "down", "rules": [{"status": 503}]})
    assert httpx.get(f"{second.url}/v1/pets").status_code == 503
    assert httpx.get(f"{second.admin_url}/health").json()["active_scenario"] == "down"


def test_without_a_spec_the_fixture_says_what_to_do(mockloop_mock):
    pass
"""


def test_plugin_serves_a_mock_inside_a_users_tests(tmp_path: Path) -> None:
    tests = tmp_path / "test_user.py"
    tests.write_text(textwrap.dedent(USER_TESTS).replace("SPEC", repr(str(PETSTORE))))
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:langsmith_plugin",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert "3 passed" in output, output
    assert "1 error" in output, output
    assert "mockloop_mock needs a description" in output, output
