"""Drive a mock end to end from Python with `MockLoopClient`.

Generate a mock project from the bundled description and start it in the background, call the
mocked API, read the request log with its analysis, create and switch a scenario and see the
next response change, then stop the server and check that no process is left behind.

    python examples/client_quickstart.py

Runs offline; state goes to MOCKLOOP_HOME (a temporary folder unless you set one).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from mockloop import MockLoopClient, ScenarioError

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A stopped child of ours would linger as a zombie; the server is detached, so it is not.
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text(
        encoding="utf-8", errors="replace"
    ).lower().replace(" ", "")


def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-quickstart-")
    with MockLoopClient(home=home) as mockloop:
        mock = mockloop.generate_mock_api(
            spec_url_or_path=str(SPEC),
            output_dir_name="quickstart_petstore",
            auth_enabled=False,
            overwrite=True,
        )
        api = mock.business_url
        assert api is not None and mock.pid is not None
        print(f"Generated {mock.project_path}")
        print(f"  API {api}  admin {mock.admin_url}  docs {mock.docs_url}  pid {mock.pid}")
        for notice in mock.notices:
            print(f"  note: {notice}")

        with httpx.Client(base_url=api, headers={"X-Session-ID": "quickstart"}) as http:
            print("GET /v1/pets/1 ->", http.get("/v1/pets/1").status_code)
            print("GET /v1/pets   ->", http.get("/v1/pets").status_code)
            print("GET /v1/nope   ->", http.get("/v1/nope").status_code)

            logs = mockloop.query_mock_logs(api)
            analysis = logs.analysis or {}
            print(
                f"Request log: {logs.total} records; p95 {analysis['latency']['p95']:.2f} ms; "
                f"error rate {analysis['error_rate']:.0%}"
            )
            for advice in analysis["recommendations"]:
                print(f"  [{advice['severity']}] {advice['message']}")

            mockloop.manage_mock_data(
                api,
                "create_scenario",
                scenario_name="pet_missing",
                scenario_config={"rules": [{"operation": "getPet", "status": 404}]},
            )
            mockloop.manage_mock_data(api, "switch_scenario", scenario_name="pet_missing")
            print(
                "After switching to 'pet_missing': GET /v1/pets/1 ->",
                http.get("/v1/pets/1").status_code,
            )

        try:
            mockloop.manage_mock_data(api, "switch_scenario", scenario_name="no_such_scenario")
        except ScenarioError as error:
            print(f"A mistake gets a clear error: {error}")

        stopped = mockloop.stop_mock_server(mock.server_id or str(mock.pid))
        print(f"Stopped server {stopped.id} ({stopped.status})")
        left = [s for s in mockloop.list_mock_servers().servers if s.status == "running"]
        assert not process_alive(mock.pid), f"process {mock.pid} is still running"
        print(f"Processes left running: {len(left)}")


if __name__ == "__main__":
    main()
