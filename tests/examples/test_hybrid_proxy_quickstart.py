"""`examples/hybrid_proxy_quickstart.py` runs as a user runs it and leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_hybrid_quickstart_routes_switches_records_replays_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "hybrid_proxy_quickstart.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "serves in hybrid mode" in out
    assert "GET /v1/pets/3 -> 200 answered by proxy" in out
    assert "GET /v1/pets -> 200 answered by mock" in out
    assert "GET /v1/status -> 200 answered by mock" in out
    assert "Live API calls so far: 1 (with the token: 1)" in out
    assert "After switching to proxy mode: GET /v1/status answered by proxy" in out
    assert "as scenario 'live_pets'; replay mode is on." in out
    assert "getStatus: drift; structural ['$.uptime_seconds']" in out
    assert "Replay: GET /v1/pets/8 answered by replay, same answer as live: True" in out
    assert "Processes left running: 0" in out
    assert "demo-live-token" not in out
