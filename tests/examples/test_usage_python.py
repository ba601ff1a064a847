"""The "Python", "Stateful workflow" and "Proxy" blocks of the usage guide run as written.

Each block is copied below as users read it (../shared/USAGE.md; a test checks the copies
against it when that file is at hand) and run with `python` from the repository root, so the
local description path `examples/specs/petstore.yaml` is used as written. The only
substitutions, made by `_as_run`:

- ports 8000 and 8001 become free ports (8000 may be taken on a test machine), in
  `business_port=8000, admin_port=8001` and in every `http://localhost:8000`;
- `duration=30` becomes `duration=1`: the block runs one load test per scenario of the
  analysis (20 for the petstore), and 20 half-minute runs would prove nothing more;
- the Stateful workflow block continues the Python block (it uses its `mockloop` client and
  mock): it runs after a prelude that starts the mock with `generate_mock_api` (auth on, as
  by default) and saves one plan per step, as its comment "a named plan" presumes;
- the Proxy block's top-level `await` runs inside `asyncio.run`.

Every run gets its own MOCKLOOP_HOME; the servers the blocks start are stopped afterwards.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

USAGE = ROOT.parent / "shared" / "USAGE.md"

PYTHON_BLOCK = """\
from mockloop import MockLoopClient

mockloop = MockLoopClient()

result = mockloop.generate_mock_api(
    spec_url_or_path="examples/specs/petstore.yaml",
    output_dir_name="ai_test_environment",
    business_port=8000, admin_port=8001, admin_ui_enabled=True,
)
scenarios = mockloop.analyze_openapi_for_testing(
    api_spec="examples/specs/petstore.yaml",
    analysis_depth="comprehensive",
    include_security_tests=True,
)
print(scenarios["summary"])
for scenario in scenarios["scenarios"]:  # iterating the result itself may also yield scenarios
    mockloop.deploy_scenario(server_url="http://localhost:8000", scenario_config=scenario)
    results = mockloop.run_load_test(
        server_url="http://localhost:8000",
        scenario_name=scenario["name"],
        duration=30,
        concurrent_users=20,
    )
    analysis = mockloop.analyze_test_results(test_results=results, include_recommendations=True)

generated = mockloop.generate_scenario_config(
    api_spec="http://localhost:8000",            # a running mock or a description
    scenario_types=["load", "error", "security"],
    ai_optimization=True,
)
for scenario in generated:
    mockloop.deploy_scenario(server_url="http://localhost:8000", scenario_config=scenario)
    mockloop.execute_test_plan(server_url="http://localhost:8000", test_plan=scenario["test_plan"])
"""

STATEFUL_BLOCK = """\
session = mockloop.create_test_session_context(
    session_name="ecommerce_integration_test",
    configuration={"test_type": "integration", "environment": "staging"},
)
workflow = mockloop.create_workflow_context(
    workflow_name="user_journey_test",
    parent_context=session["context_id"],
    steps=["user_registration", "product_browsing", "cart_management",
           "checkout_process", "order_fulfillment"],
)
for step in workflow["steps"]:
    mockloop.update_context_data(
        context_id=workflow["context_id"],
        data={"current_step": step, "timestamp": datetime.now()},
    )
    mockloop.execute_test_plan(
        server_url="http://localhost:8000",
        test_plan=f"{step}_test_plan",             # a named plan, or a plan object
        context_id=workflow["context_id"],
    )
    mockloop.create_context_snapshot(
        context_id=workflow["context_id"], snapshot_name=f"{step}_completion",
    )
final = mockloop.analyze_test_results(
    test_results=workflow["results"], context_id=workflow["context_id"],
    include_recommendations=True,
)
"""

PROXY_BLOCK = """\
from mockloop import AsyncMockLoopClient

plugin = await AsyncMockLoopClient().create_mcp_plugin(
    spec_url_or_path="examples/specs/petstore.yaml",
    mode="hybrid",
    plugin_name="example_api",
    target_url="http://127.0.0.1:9000",
    auth_config={"auth_type": "bearer_token", "credentials": {"token": "your-token"}},
    routing_rules=[
        {"pattern": "/api/critical/*", "mode": "proxy", "priority": 10},
        {"pattern": "/api/dev/*", "mode": "mock", "priority": 5},
    ],
)
"""

# The mock the Stateful workflow block runs against, and one saved plan per step.
STATEFUL_PRELUDE = """\
import sys
from datetime import datetime

sys.path.insert(0, "examples")
from stateful_workflow import STEP_PLANS

from mockloop import MockLoopClient

mockloop = MockLoopClient()
mock = mockloop.generate_mock_api(
    spec_url_or_path="examples/specs/petstore.yaml",
    output_dir_name="ai_test_environment",
    business_port=8000, admin_port=8001,
)
try:
    mockloop.execute_test_plan(
        server_url="http://localhost:8000", test_plan="user_registration_test_plan"
    )
except Exception as exc:
    print("UNKNOWN PLAN:", exc)
for name, steps in STEP_PLANS.items():
    mockloop.save_test_plan(f"{name}_test_plan", {"name": name, "steps": steps})
"""

STATEFUL_CHECKS = """\
runs = mockloop.get_context_data(workflow["context_id"]).results
print("RUNS:", len(runs), sorted({run.status for run in runs}))
print("VERDICT:", final.verdict, len(final.runs))
print("STEPS:", len(mockloop.get_context_data(workflow["context_id"]).snapshots))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_run(block: str, business: int, admin: int) -> str:
    """The block with the substitutions the module docstring lists."""
    text = block.replace("duration=30,", "duration=1,")
    text = text.replace("localhost:8000", f"localhost:{business}")
    text = text.replace("business_port=8000", f"business_port={business}")
    return text.replace("admin_port=8001", f"admin_port={admin}")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A MOCKLOOP_HOME of the test's own; every server started in it is stopped afterwards."""
    yield tmp_path
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-c", "from mockloop.servers import stop_all_servers; stop_all_servers()"],
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )


def _run(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOCKLOOP_HOME": str(home)}
    path = home / "usage_block.py"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,  # the blocks name examples/specs/petstore.yaml relative to it
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _running_servers(home: Path) -> int:
    env = {**os.environ, "MOCKLOOP_HOME": str(home)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mockloop.servers import list_servers; "
            "print(sum(s.status == 'running' for s in list_servers()))",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(out.stdout.strip())


def test_python_block_runs_as_written_and_again(home: Path) -> None:
    business, admin = _free_port(), _free_port()
    checks = textwrap.dedent(
        """
        print("RESULT:", result.project_action, result.business_url)
        print("SCENARIOS:", len(scenarios["scenarios"]))
        print("LAST LOAD:", results.status, results.total_requests > 0)
        print("ANALYSIS:", analysis.verdict)
        print("GENERATED:", len(list(generated)))
        """
    )
    script = _as_run(PYTHON_BLOCK, business, admin) + checks
    first = _run(script, home)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert f"RESULT: created http://127.0.0.1:{business}" in out
    assert "MockLoop Pet Store 1.0.0: 8 operation(s)" in out  # scenarios["summary"]
    count = int(re.search(r"SCENARIOS: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert count >= 10
    assert "LAST LOAD: " in out and "True" in out.split("LAST LOAD: ")[1].splitlines()[0]
    assert int(re.search(r"GENERATED: (\d+)", out).group(1)) >= 3  # type: ignore[union-attr]

    # Running the block's first call again reuses the project and the mock it started.
    setup = _as_run(PYTHON_BLOCK.split("scenarios = ")[0], business, admin)
    second = _run(setup + 'print("RESULT:", result.project_action, result.business_url)\n', home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"RESULT: reused http://127.0.0.1:{business}" in second.stdout
    assert _running_servers(home) == 1


def test_stateful_workflow_block_runs_against_a_mock_with_auth_on(home: Path) -> None:
    business, admin = _free_port(), _free_port()
    script = (
        _as_run(STATEFUL_PRELUDE, business, admin)
        + _as_run(STATEFUL_BLOCK, business, admin)
        + STATEFUL_CHECKS
    )
    run = _run(script, home)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    unknown = out.split("UNKNOWN PLAN: ")[1].splitlines()[0]
    assert "no plan named 'user_registration_test_plan'" in unknown
    assert (
        "Known plans" in unknown and "save_test_plan(name='user_registration_test_plan'" in unknown
    )
    assert "RUNS: 5 ['passed']" in out  # all five saved plans pass with auth on
    assert "VERDICT: pass 5" in out
    assert "STEPS: 5" in out


def test_proxy_block_runs_as_written(home: Path) -> None:
    body = textwrap.indent(PROXY_BLOCK, "    ")
    script = (
        "import asyncio\n\n\nasync def main():\n"
        + body
        + "    print('PLUGIN:', plugin['mode'], plugin['plugin_name'], len(plugin['tools']))\n"
        + "    print('ROUTES:', [r['pattern'] for r in plugin['routing_rules']])\n"
        + "\n\nasyncio.run(main())\n"
    )
    run = _run(script, home)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PLUGIN: hybrid example_api" in run.stdout
    assert "ROUTES: ['/api/critical/*', '/api/dev/*']" in run.stdout


@pytest.mark.skipif(not USAGE.is_file(), reason=f"the usage guide is not at {USAGE}")
def test_the_copies_are_the_usage_guide_blocks() -> None:
    text = USAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert PYTHON_BLOCK in blocks
    assert STATEFUL_BLOCK in blocks
    assert PROXY_BLOCK in blocks
