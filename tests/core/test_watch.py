"""`--watch`: edits of the description and the scenarios file are served without a restart,
and a bad edit keeps the last good version serving, reported in `/health`.

Real servers (a MockServer thread, or `mockloop serve` processes) and real files: the watcher
sees the edits through the operating system's file notifications.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop.errors import ConfigError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.runtime import MockRuntime
from tests.core.test_cli import _free_port
from tests.waiting import wait_for, wait_for_health

ROOT = """\
openapi: 3.0.3
info: {title: Watched, version: "1"}
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: one item
          content:
            application/json:
              schema: {$ref: "schemas/item.yaml#/Item"}
"""

PING = """\
  /ping:
    get:
      operationId: ping
      responses:
        "200":
          description: pong
          content:
            application/json:
              schema: {type: object, example: {pong: true}}
"""

ITEM = """\
Item:
  type: object
  required: [name]
  properties:
    name: {type: string}
  example: {name: %s}
"""

SCENARIOS = """\
active: down
scenarios:
  - name: down
    rules:
      - {operation: getItem, status: %s, body: {error: down}}
"""


@pytest.fixture
def described(tmp_path: Path) -> Path:
    """A description in two files (the root and a $ref'd schema) and a scenarios file."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "item.yaml").write_text(ITEM % "first")
    (tmp_path / "api.yaml").write_text(ROOT)
    return tmp_path


@pytest.fixture
def watched(described: Path) -> Iterator[MockServer]:
    config = MockConfig(
        spec=str(described / "api.yaml"), port=0, admin_port=0, auth=False, watch=True
    )
    with MockServer(config) as server:
        yield server


def _with_scenarios(described: Path, scenarios: Path) -> MockConfig:
    """A watched mock of `described` whose scenarios file starts with `down` (503) active."""
    scenarios.write_text(SCENARIOS % 503)
    return MockConfig(
        spec=str(described / "api.yaml"),
        port=0,
        admin_port=0,
        auth=False,
        watch=True,
        scenarios_file=scenarios,
    )


def _health(server: MockServer) -> dict[str, Any]:
    return httpx.get(f"{server.business_url}/health", timeout=10).json()


def _get(server: MockServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.business_url}{path}", timeout=10)


def _replace(path: Path, text: str) -> None:
    """Save as editors do: a new file renamed over the old one."""
    fresh = path.with_name(f".{path.name}.saving")
    fresh.write_text(text)
    os.replace(fresh, path)


def test_every_file_of_the_description_is_watched(watched: MockServer, described: Path) -> None:
    files = _health(watched)["watch"]["files"]
    assert files == [
        str((described / "api.yaml").resolve()),
        str((described / "schemas" / "item.yaml").resolve()),
    ]


def test_an_edit_is_served_without_a_restart(watched: MockServer, described: Path) -> None:
    assert _get(watched, "/ping").status_code == 404
    (described / "api.yaml").write_text(ROOT + PING)
    wait_for(lambda: _get(watched, "/ping").status_code == 200, "the new operation")
    assert _get(watched, "/ping").json() == {"pong": True}

    # A file reached by a $ref is watched too, and a save by rename is seen.
    _replace(described / "schemas" / "item.yaml", ITEM % "second")
    wait_for(lambda: _get(watched, "/items/1").json() == {"name": "second"}, "the new schema")
    # The status follows the version served (the watch counts once the reload is done).
    health = wait_for(
        lambda: (h := _health(watched))["watch"]["reloads"] == 2 and h, "the reload count"
    )
    assert health["operations"] == 2
    assert health["watch"]["error"] is None


def test_a_save_of_the_same_bytes_reloads_nothing(watched: MockServer, described: Path) -> None:
    runtime = watched.runtime
    assert runtime is not None and runtime.watch is not None
    before = runtime.spec
    (described / "api.yaml").write_text(ROOT)
    assert runtime.watch.check() is False  # what the watcher runs on a change
    assert runtime.spec is before
    assert _health(watched)["watch"]["reloads"] == 0


def test_a_bad_edit_keeps_the_last_good_version(watched: MockServer, described: Path) -> None:
    (described / "api.yaml").write_text(ROOT + PING)
    wait_for(lambda: _get(watched, "/ping").status_code == 200, "the good edit")

    (described / "api.yaml").write_text(ROOT + PING + "  broken: [\n")
    error = wait_for(lambda: _health(watched)["watch"]["error"], "the bad edit's report")
    assert "malformed YAML" in error and "api.yaml" in error
    assert _get(watched, "/ping").json() == {"pong": True}  # still the last good version
    admin = httpx.get(f"{watched.admin_url}/health", timeout=10).json()
    assert admin["watch"]["error"] == error

    # A $ref to a file that does not exist is refused the same way.
    (described / "api.yaml").write_text(ROOT.replace("schemas/item.yaml", "schemas/gone.yaml"))
    wait_for(lambda: "gone.yaml" in (_health(watched)["watch"]["error"] or ""), "the bad $ref")
    assert _get(watched, "/items/1").json() == {"name": "first"}

    # The next good edit is served and clears the report.
    (described / "api.yaml").write_text(ROOT)
    wait_for(lambda: _get(watched, "/ping").status_code == 404, "the edit after the bad ones")
    wait_for(lambda: _health(watched)["watch"]["error"] is None, "the report cleared")


def test_the_scenarios_file_is_imported_again(described: Path) -> None:
    scenarios = described / "scenarios.yaml"
    with MockServer(_with_scenarios(described, scenarios)) as server:
        assert _get(server, "/items/1").status_code == 503
        assert str(scenarios.resolve()) in _health(server)["watch"]["files"]
        scenarios.write_text(SCENARIOS % 502)
        wait_for(lambda: _get(server, "/items/1").status_code == 502, "the edited scenario")

        # One bad scenario in the file: nothing of the file is taken, and it is reported.
        scenarios.write_text(
            SCENARIOS % 501 + "  - {name: bad, rules: [{operation: nope, status: 500}]}\n"
        )
        error = wait_for(lambda: _health(server)["watch"]["error"], "the bad scenario's report")
        assert "scenarios.yaml" in error and "nope" in error
        assert _get(server, "/items/1").status_code == 502
        stored = httpx.get(f"{server.admin_url}/api/mock-data/scenarios/down", timeout=10).json()
        assert stored["config"]["rules"][0]["status"] == 502


def test_the_files_of_a_description_from_the_compiled_cache_are_known(described: Path) -> None:
    config = MockConfig(spec=str(described / "api.yaml"), watch=True, storage=False)
    first = MockRuntime(config).description_files  # loaded and written to the cache
    again = MockRuntime(config).description_files  # read back from the cache
    assert first == again
    assert sorted(first) == [
        str((described / "api.yaml").resolve()),
        str((described / "schemas" / "item.yaml").resolve()),
    ]


@pytest.mark.parametrize("spec", ["https://api.example/openapi.yaml", {"openapi": "3.0.3"}])
def test_watch_needs_a_local_file(spec: Any) -> None:
    with pytest.raises(ConfigError, match="watch needs a description in a local file"):
        MockConfig.build(spec=spec, watch=True)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="--workers needs SO_REUSEPORT")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--workers needs Linux")
def test_every_worker_serves_the_reloaded_description(described: Path) -> None:
    port, admin_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockloop.cli",
            "serve",
            str(described / "api.yaml"),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            "--data-dir",
            str(described / "data"),
            "--no-auth",
            "--workers",
            "2",
            "--watch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    admin = f"http://127.0.0.1:{admin_port}"
    try:
        wait_for_health(admin, process, timeout=90)
        _replace(described / "schemas" / "item.yaml", ITEM % "second")
        # The supervisor counts a reload once every worker serves it.
        wait_for(
            lambda: httpx.get(f"{admin}/health", timeout=10).json()["watch"]["reloads"] == 1,
            "the supervisor's reload",
            timeout=30,
        )

        def served() -> dict[int, Any]:
            """What each worker answers (a new connection each time: the kernel picks)."""
            seen: dict[int, Any] = {}
            for _ in range(400):
                with httpx.Client(timeout=10) as client:
                    worker = client.get(f"http://127.0.0.1:{port}/health").json()["worker"]
                    seen[worker] = client.get(f"http://127.0.0.1:{port}/items/1").json()
                if len(seen) == 2:
                    break
            return seen

        seen = served()
        assert sorted(seen) == [0, 1], seen
        assert all(body == {"name": "second"} for body in seen.values()), seen

        # A bad edit on disk, then a worker dies: its replacement serves the last good version.
        (described / "schemas" / "item.yaml").write_text("Item: [\n")
        wait_for(
            lambda: httpx.get(f"{admin}/health", timeout=10).json()["watch"]["error"],
            "the refused edit",
            timeout=30,
        )
        victim = httpx.get(f"{admin}/health", timeout=10).json()["workers"][0]
        os.kill(victim["pid"], signal.SIGKILL)

        def replaced() -> bool:
            workers = httpx.get(f"{admin}/health", timeout=10).json()["workers"]
            first = workers[0]
            return first["pid"] != victim["pid"] and all(w["ready"] for w in workers)

        wait_for(replaced, "the replacement worker", timeout=60)
        seen = served()
        assert sorted(seen) == [0, 1], seen
        assert all(body == {"name": "second"} for body in seen.values()), seen
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Watching 2 file(s)" in output
    assert "reloaded" in output


MIXED = """\
openapi: 3.0.3
info: {title: Mixed, version: "1"}
paths:
  /things:
    post:
      operationId: %s
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses:
        "201":
          description: made
          content:
            application/json:
              schema: {type: object, example: {made: true}}
"""


def test_a_request_in_flight_finishes_on_the_version_that_routed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large body is validated off the loop: the reload lands while the request awaits it,
    and renames the operation. The request still answers from its own version (no 500)."""
    import threading

    from mockloop.mock import validation

    entered, release = threading.Event(), threading.Event()
    check = validation.RequestValidator.check

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return check(self, *args, **kwargs)

    monkeypatch.setattr(validation.RequestValidator, "check", held)
    (tmp_path / "api.yaml").write_text(MIXED % "createThing")
    config = MockConfig(spec=str(tmp_path / "api.yaml"), port=0, auth=False, watch=True)
    with MockServer(config) as server:
        runtime = server.runtime
        before = runtime.generation
        answer: dict[str, httpx.Response] = {}
        big = b'{"pad": "' + b"x" * 70_000 + b'"}'

        def post() -> None:
            answer["r"] = httpx.post(
                f"{server.business_url}/things",
                content=big,
                headers={"content-type": "application/json"},
                timeout=30,
            )

        thread = threading.Thread(target=post)
        thread.start()
        try:
            assert entered.wait(30)
            (tmp_path / "api.yaml").write_text(MIXED % "makeThing")
            wait_for(lambda: runtime.generation > before, "the reload")
            assert runtime.spec.operations[0].operation_id == "makeThing"
        finally:
            release.set()
            thread.join(30)
        assert answer["r"].status_code == 201, answer["r"].text
        assert answer["r"].json() == {"made": True}


def test_a_fix_that_creates_the_missing_file_is_taken(watched: MockServer, described: Path) -> None:
    (described / "api.yaml").write_text(ROOT.replace("schemas/item.yaml", "more/item.yaml"))
    wait_for(lambda: "more/item.yaml" in (_health(watched)["watch"]["error"] or ""), "the error")
    (described / "more").mkdir()  # a folder no one watched, then the file in it
    (described / "more" / "item.yaml").write_text(ITEM % "third")
    wait_for(lambda: _get(watched, "/items/1").json() == {"name": "third"}, "the fix")
    health = wait_for(
        lambda: (h := _health(watched)["watch"])["error"] is None and h, "the report cleared"
    )
    assert str((described / "more" / "item.yaml").resolve()) in health["files"]


def test_a_replaced_folder_is_watched_anew(watched: MockServer, described: Path) -> None:
    """A checkout or a ConfigMap swap replaces the folder a $ref'd file lives in."""
    (described / "schemas").rename(described / "old-schemas")
    (described / "schemas").mkdir()
    (described / "schemas" / "item.yaml").write_text(ITEM % "fourth")
    wait_for(lambda: _get(watched, "/items/1").json() == {"name": "fourth"}, "the new folder")
    (described / "schemas" / "item.yaml").write_text(ITEM % "fifth")  # and edits in it
    wait_for(lambda: _get(watched, "/items/1").json() == {"name": "fifth"}, "an edit in it")


def test_a_retargeted_link_is_followed(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(ROOT.replace("schemas/item.yaml", "item.yaml"))
    (tmp_path / "v2.yaml").write_text((tmp_path / "v1.yaml").read_text() + PING)
    (tmp_path / "item.yaml").write_text(ITEM % "first")
    (tmp_path / "api.yaml").symlink_to("v1.yaml")
    config = MockConfig(spec=str(tmp_path / "api.yaml"), port=0, auth=False, watch=True)
    with MockServer(config) as server:
        assert _get(server, "/ping").status_code == 404
        (tmp_path / "next").symlink_to("v2.yaml")
        os.replace(tmp_path / "next", tmp_path / "api.yaml")  # ln -sfn v2.yaml api.yaml
        wait_for(lambda: _get(server, "/ping").status_code == 200, "the retargeted link")


def test_the_scenarios_file_is_the_truth_for_its_scenarios(described: Path) -> None:
    scenarios = described / "scenarios.yaml"
    with MockServer(_with_scenarios(described, scenarios)) as server:
        admin = f"{server.admin_url}/api/mock-data/scenarios"
        assert _get(server, "/items/1").status_code == 503
        # An admin switch stands while the file's `active` stays as it was...
        httpx.post(f"{admin}/deactivate", timeout=10).raise_for_status()
        scenarios.write_text(SCENARIOS % 503 + "  - {name: other, rules: []}\n")
        wait_for(
            lambda: (
                "other" in {s["name"] for s in httpx.get(admin, timeout=10).json()["scenarios"]}
            ),
            "the added scenario",
        )
        assert _get(server, "/items/1").status_code == 200
        # ...and a scenario the file no longer names is removed.
        scenarios.write_text("scenarios:\n  - {name: other, rules: []}\n")
        wait_for(
            lambda: (
                {s["name"] for s in httpx.get(admin, timeout=10).json()["scenarios"]} == {"other"}
            ),
            "the removed scenario",
        )
        assert _get(server, "/items/1").status_code == 200


def test_a_busy_folder_does_not_hold_back_the_watch(watched: MockServer, described: Path) -> None:
    """A log written beside the description many times a second must not starve the checks
    that notice a replaced folder."""
    import threading

    stop = threading.Event()

    def chatter() -> None:
        with (described / "app.log").open("a") as log:
            while not stop.wait(0.05):
                log.write("line\n")
                log.flush()

    writer = threading.Thread(target=chatter)
    writer.start()
    try:
        (described / "schemas").rename(described / "old-schemas")
        (described / "schemas").mkdir()
        (described / "schemas" / "item.yaml").write_text(ITEM % "busy")
        wait_for(lambda: _get(watched, "/items/1").json() == {"name": "busy"}, "the new folder")
    finally:
        stop.set()
        writer.join()


def test_a_fix_in_a_folder_the_last_good_version_did_not_use_is_taken(
    watched: MockServer, described: Path
) -> None:
    (described / "other").mkdir()
    (described / "api.yaml").write_text(ROOT.replace("schemas/item.yaml", "other/item.yaml"))
    wait_for(lambda: "other/item.yaml" in (_health(watched)["watch"]["error"] or ""), "the error")
    (described / "other" / "item.yaml").write_text("Item: [\n")  # read, and still refused
    wait_for(lambda: "malformed YAML" in (_health(watched)["watch"]["error"] or ""), "the typo")
    (described / "other" / "item.yaml").write_text(ITEM % "elsewhere")
    wait_for(lambda: _get(watched, "/items/1").json() == {"name": "elsewhere"}, "the fix")


def test_the_published_description_is_read_back_only_from_a_file_of_ones_own(
    tmp_path: Path,
) -> None:
    from mockloop.mock.runtime import publish_served_description, read_served_description
    from tests.conftest import PETSTORE

    runtime = MockRuntime(MockConfig(spec=str(PETSTORE), watch=True, storage=False))
    path = tmp_path / "served.pickle"
    publish_served_description(runtime, path)
    spec, files, stamp = read_served_description(path)
    assert spec.title == runtime.spec.title and files == runtime.description_files
    assert stamp[2] == path.stat().st_size
    path.chmod(0o666)
    with pytest.raises(ConfigError, match="not this user's own file"):
        read_served_description(path)
    path.chmod(0o600)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="is damaged"):
        read_served_description(path)
