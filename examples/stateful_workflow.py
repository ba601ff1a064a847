"""The documented stateful e-commerce workflow, run end to end against a local petstore mock.

A test session context, a workflow context with five steps under it, and for each step: the
step's data written to the workflow, the step's named test plan executed against the mock
(recorded with the workflow's context id), and a snapshot. Then the analysis of every run the
workflow recorded, and a restore of the third step's snapshot.

    python examples/stateful_workflow.py

Runs offline: the petstore mock runs in this process on free ports; state goes to
MOCKLOOP_HOME (a temporary folder unless you set one).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from mockloop import MockLoopClient
from mockloop.mock.config import MockConfig
from mockloop.mock.server import MockServer

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"

# One small plan per step, saved as MOCKLOOP_HOME/plans/<step>_test_plan.yaml.
STEP_PLANS: dict[str, list[dict[str, Any]]] = {
    "user_registration": [
        {"name": "list_owners", "operation": "listOwners", "expect": {"status": 200}},
    ],
    "product_browsing": [
        {
            "name": "list_pets",
            "operation": "listPets",
            "request": {"params": {"limit": 5}},
            "expect": {"status": 200},
        },
        {
            "name": "get_pet",
            "operation": "getPet",
            "path_params": {"petId": 1},
            "expect": {"status": 200},
        },
    ],
    "cart_management": [
        {
            "name": "add_to_cart",
            "operation": "createPet",
            "request": {"body": {"name": "Rex", "tag": "dog"}},
            "expect": {"status": 201},
        },
    ],
    "checkout_process": [
        {
            "name": "checkout",
            "operation": "updatePet",
            "path_params": {"petId": 1},
            "request": {"body": {"name": "Rex", "tag": "dog"}},
            "expect": {"status": 200},
        },
    ],
    "order_fulfillment": [
        {"name": "service_status", "operation": "getStatus", "expect": {"status": 200}},
    ],
}


def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-workflow-")
    config = MockConfig.build(spec=str(SPEC), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as server, MockLoopClient(home=home) as mockloop:
        server_url = server.business_url
        print(f"Petstore mock on {server_url}; state in {home}")
        for step, steps in STEP_PLANS.items():
            saved = mockloop.save_test_plan(f"{step}_test_plan", {"name": step, "steps": steps})
            print(f"  saved plan {saved.name} ({saved.steps} step(s))")

        # The documented workflow (server_url is the local mock's).
        session = mockloop.create_test_session_context(
            session_name="ecommerce_integration_test",
            configuration={"test_type": "integration", "environment": "staging"},
        )
        workflow = mockloop.create_workflow_context(
            workflow_name="user_journey_test",
            parent_context=session["context_id"],
            steps=[
                "user_registration",
                "product_browsing",
                "cart_management",
                "checkout_process",
                "order_fulfillment",
            ],
        )
        print(f"Session {session['context_id']}, workflow {workflow['context_id']}")
        for step in workflow["steps"]:
            mockloop.update_context_data(
                context_id=workflow["context_id"],
                data={"current_step": step, "timestamp": datetime.now()},
            )
            run = mockloop.execute_test_plan(
                server_url=server_url,
                test_plan=f"{step}_test_plan",
                context_id=workflow["context_id"],
            )
            snapshot = mockloop.create_context_snapshot(
                context_id=workflow["context_id"], snapshot_name=f"{step}_completion"
            )
            print(
                f"  {step}: plan {run.status} ({run.passed}/{run.total} steps), snapshot "
                f"{snapshot.snapshot_name} at version {snapshot.version}"
            )
        final = mockloop.analyze_test_results(
            test_results=workflow["results"],
            context_id=workflow["context_id"],
            include_recommendations=True,
        )
        print(f"Analysis: {len(final.runs)} run(s), verdict {final.verdict}")
        print(f"  {final.summary}")

        # Back to the state right after the third step.
        current = mockloop.get_context_data(workflow["context_id"])
        print(f"Now at version {current.version}, step {current.data['current_step']!r}")
        third = next(s for s in current.snapshots if s.name == "cart_management_completion")
        restored = mockloop.restore_context_snapshot(third.snapshot_id)
        print(
            f"Restored {restored.snapshot_name}: version {restored.previous_version} -> "
            f"{restored.version}, current_step {restored.data['current_step']!r}, "
            f"timestamp {restored.data['timestamp'].isoformat()}"
        )
        print(f"Recorded runs of the workflow: {len(current.results)}")


if __name__ == "__main__":
    main()
