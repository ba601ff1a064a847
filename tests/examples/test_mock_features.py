"""`examples/mock_features.py` runs as a user runs it and prints what the mock answered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_mock_features_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mock_features.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "MOCKLOOP_HOME": str(tmp_path)},
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "GET /pets/999 -> 404" in out and "GET /pets/7 -> 200" in out
    assert "POST /pets tag=fish -> 422 {'error': 'no fish'}" in out
    assert "X-Tenant: b -> [{'id': 2, 'name': \"Tenant B's pet\"}]" in out
    assert "'id': 42, 'name': 'Pet 42 of ann', 'tag': 'DOG'" in out
    assert "DELETE /pets/3 -> 429" in out and "'retry-after':" in out
    assert "OPTIONS /pets -> 204, allowed methods: GET, OPTIONS, POST" in out
    assert "GET /ping before the edit -> 404" in out
    assert "GET /ping after adding it -> {'pong': True}" in out
    assert "a broken edit is refused: the description:" in out and "malformed YAML" in out
    assert "GET /ping still answers -> 200" in out
    assert 'mockloop_requests_total{method="GET",mode="mock",operation="getPet",status="404"' in out
