"""The mock conforms to the descriptions it serves: our own check and schemathesis.

A deterministic sample of the real-world corpus (an AWS description routed by query
discriminator, a Google one, an Azure one, a Twilio one and a one-operation API) plus the
petstore, each served in-process with auth simulation and request validation on. The full
corpus runs with `make conformance` (scripts/conformance.py); this is its quick guard.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.conftest import PETSTORE, REAL_WORLD, ROOT, needs_real_world

SAMPLE = (
    "amazonaws.com_monitoring.json",
    "googleapis.com_playdeveloperreporting.json",
    "azure.com_automation-account.json",
    "twilio.com_twilio_wireless_v1.json",
    "ip2proxy.com.json",
)
MAX_EXAMPLES = 3
TIMEOUT_S = 60.0


def _load_checker() -> ModuleType:
    path = ROOT / "scripts" / "conformance.py"
    spec = importlib.util.spec_from_file_location("mockloop_conformance_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


conformance = _load_checker()


def _descriptions() -> list:
    params = [
        pytest.param(REAL_WORLD / name, id=name.removesuffix(".json"), marks=needs_real_world)
        for name in SAMPLE
    ]
    return [pytest.param(PETSTORE, id="petstore"), *params]


@pytest.fixture(scope="module", params=_descriptions())
def report(request: pytest.FixtureRequest):
    path: Path = request.param
    return conformance.check_description(path, max_examples=MAX_EXAMPLES, timeout_s=TIMEOUT_S)


def _failures(failures: list) -> str:
    return "\n".join(
        f"{f.operation}: {f.request} -> {f.status}: [{f.check}] {f.error}" for f in failures
    )


def test_every_get_operation_answers_as_documented(report) -> None:
    assert report.error is None, report.error
    assert report.get_operations > 0
    assert report.checked == report.get_operations, _failures(report.failures)
    assert not report.failures, _failures(report.failures)
    # Valid requests with credentials get successes, not refusals.
    assert report.statuses and all(code.startswith("2") for code in report.statuses), (
        report.statuses
    )


def test_schemathesis_finds_no_failure(report) -> None:
    st = report.schemathesis
    assert st.verdict == "passed", (
        f"{st.verdict}\n{_failures(st.failures)}\n" + "\n".join(st.errors) + st.output_tail
    )
    assert st.operations_tested > 0 and st.cases > 0
    # A run where every request missed (404) or was refused would pass vacuously.
    successes = sum(n for code, n in st.statuses.items() if code.startswith("2"))
    assert successes > 0, st.statuses


def test_checker_flags_a_body_that_breaks_the_schema() -> None:
    from mockloop.spec import load_spec
    from mockloop.spec.validation import SchemaValidator

    spec = load_spec(str(PETSTORE))
    op = spec.operation("getPet")
    validator = SchemaValidator(spec.document)
    good = {"id": 1, "name": "Rex", "created_at": "2024-05-01T10:00:00Z"}
    ok = httpx.Response(200, json=good)
    assert conformance.judge(op, ok, validator) == ([], True)
    wrong_type = httpx.Response(200, json={**good, "id": "one"})
    problems, _ = conformance.judge(op, wrong_type, validator)
    assert problems and "schema" in problems[0]
    undocumented = httpx.Response(418, json={})
    assert "refused" in conformance.judge(op, undocumented, validator)[0][0]
    server_error = httpx.Response(500, text="boom")
    assert "server error" in conformance.judge(op, server_error, validator)[0][0]
    xml = httpx.Response(200, content=b"<a>", headers={"content-type": "application/json"})
    assert "not valid JSON" in conformance.judge(op, xml, validator)[0][0]


def test_requests_are_built_from_the_description() -> None:
    from mockloop.fake import SchemaFaker
    from mockloop.spec import load_spec

    spec = load_spec(str(PETSTORE))
    faker = SchemaFaker(spec.document)
    built = conformance.build_request(spec.operation("getPet"), spec, faker)
    assert built.path.startswith("/pets/") and built.path.split("/")[2].isdigit()
    assert built.headers["Authorization"] == f"Bearer {conformance.AUTH_TOKEN}"
    public = conformance.build_request(spec.operation("getStatus"), spec, faker)
    assert "Authorization" not in public.headers and public.path == "/status"
