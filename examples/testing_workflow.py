"""The whole testing job from Python: serve a mock, test it, analyse, compare, report.

Starts a mock of the bundled petstore description in the background, opens a test session,
runs a functional test plan generated from the description, a load test, a security test, and
a second load test under a scenario that slows one operation down; then analyses the runs,
compares the two load runs, writes an HTML and a JUnit report, ends the session with its final
report, and stops the mock.

    python examples/testing_workflow.py [--out FOLDER]

Runs offline; state goes to MOCKLOOP_HOME (a temporary folder unless you set one), reports to
--out (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from mockloop import MockLoopClient

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"
ENDPOINTS = [
    "GET /pets?limit=5",
    "GET /pets/1",
    "GET /owners/0b9a3f5e-2d4c-4a8e-9f1d-3c5b7a9e1f20",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the reports (default: a temporary folder)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load test")
    args = parser.parse_args()
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-workflow-")
    out = Path(args.out or tempfile.mkdtemp(prefix="mockloop-reports-"))
    out.mkdir(parents=True, exist_ok=True)

    with MockLoopClient(home=home) as mockloop:
        mock = mockloop.generate_mock_api(
            spec_url_or_path=str(SPEC),
            output_dir_name="workflow_petstore",
            auth_enabled=False,
            overwrite=True,
        )
        api = mock.business_url
        assert api is not None
        print(f"Mock of {SPEC.name}: {api} (admin {mock.admin_url})")
        try:
            session = mockloop.create_test_session(session_name="petstore_release_check")
            print(f"Test session {session['session_id']}")

            plan = mockloop.execute_test_plan(server_url=api)
            print(f"\n[plan] {plan.summary()}")

            baseline = mockloop.run_load_test(
                server_url=api,
                duration=args.duration,
                concurrent_users=4,
                endpoints=ENDPOINTS,
                thresholds={"p95_ms": 250, "error_rate": 0.01},
            )
            print(f"\n[load] {baseline.summary()}")

            # The mock was generated with auth off, so its secured operations answer anyone:
            # the security test should say so.
            security = mockloop.run_security_test(server_url=api, max_requests=300)
            print(f"\n[security] {security.summary()}")

            mockloop.deploy_scenario(
                server_url=api,
                scenario_config={
                    "name": "slow_pet_lookup",
                    "description": "getPet takes about 40 ms",
                    "rules": [{"operation": "getPet", "delay_ms": 40}],
                },
            )
            slow = mockloop.run_load_test(
                server_url=api,
                scenario_name="slow_pet_lookup",
                duration=args.duration,
                concurrent_users=4,
                endpoints=ENDPOINTS,
                thresholds={"p95_ms": 250, "error_rate": 0.01},
            )
            print(f"\n[load, slow_pet_lookup] {slow.summary()}")

            analysis = mockloop.analyze_test_results(
                test_results=[plan, baseline, security], slo={"p99_ms": 500}
            )
            print(f"\n[analysis] {analysis['summary']}")
            for rec in analysis.recommendations[:5]:
                print(f"  - ({rec.priority}) {rec.title}: {rec.evidence}")

            diff = mockloop.compare_test_runs(baseline_results=baseline, comparison_results=slow)
            print(f"\n[compare] verdict {diff.verdict}")
            for line in diff.regressions:
                print(f"  regressed: {line}")

            runs = [plan, baseline, security, slow]
            # Each run refreshes the reports in --out: replacing them is asked for here (a
            # report never replaces an existing file by default).
            html = mockloop.generate_test_report(
                test_results=runs,
                output_format="html",
                output_path=str(out / "report.html"),
                overwrite=True,
            )
            junit = mockloop.generate_test_report(
                test_results=runs,
                output_format="junit",
                output_path=str(out / "junit.xml"),
                overwrite=True,
            )
            print(f"\n[report] {html.path} ({html.size_bytes} bytes)")
            print(f"[report] {junit.path} ({junit.size_bytes} bytes)")

            ended = mockloop.end_test_session(session_id=session["session_id"])
            report = ended.report
            assert report is not None
            print(
                f"\n[session] {report.runs} runs {report.by_kind}; verdict {report.verdict}: "
                + "; ".join(report.reasons[:3])
            )
        finally:
            stopped = mockloop.stop_mock_server(mock.server_id or str(mock.pid))
            print(f"\nStopped the mock ({stopped.status})")


if __name__ == "__main__":
    main()
