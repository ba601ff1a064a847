"""`examples/stateful_workflow.py` runs the documented workflow as a user runs it, with its
state in SQLite files and, set by `MOCKLOOP_DATABASE_URL`, in PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mockloop.context import SQLContextStore
from tests.conftest import ROOT


def test_stateful_workflow_example_runs_and_restores_step_three(database, tmp_path: Path) -> None:
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}  # and the database fixture's URL
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "stateful_workflow.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for step in ("user_registration", "product_browsing", "checkout_process"):
        assert f"{step}: plan passed" in out
    assert "cart_management: plan passed (1/1 steps), snapshot cart_management_completion" in out
    assert "Analysis: 5 run(s), verdict pass" in out
    assert "Now at version 6, step 'order_fulfillment'" in out
    assert (
        "Restored cart_management_completion: version 6 -> 7, current_step 'cart_management'" in out
    )
    assert "Recorded runs of the workflow: 5" in out

    # What the example printed is what its state folder holds.
    workflow_id = re.search(r"workflow (workflow-[0-9a-f]+)", out).group(1)  # type: ignore[union-attr]
    store = SQLContextStore(database.location("contexts", tmp_path / "contexts.db"))
    record = store.get(workflow_id)
    assert record is not None and record.version == 7
    assert record.data["current_step"] == "cart_management"
    third = store.list_snapshots(workflow_id, name="cart_management_completion")[0]
    assert record.data == third.data
    assert f"timestamp {third.data['timestamp'].isoformat()}" in out
    store.close()
    if database.backend == "postgresql":
        assert not (tmp_path / "contexts.db").exists()  # it really ran on PostgreSQL
