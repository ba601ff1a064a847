"""Fuzzing `mockloop serve`: schemathesis against the business and admin ports of several
descriptions, and raw bytes against the business port's HTTP parser (every error it answers
is problem+json; 501/505 are the only 5xx, refusing a transfer coding or HTTP version).

Each description is served by its own `mockloop serve` process on free loopback ports (no
scenario active, so no configured fault can excuse a 5xx). Properties, for every request:

- no 5xx from the mock itself and no request that schemathesis had to time out;
- every error answer of the business port is `application/problem+json` or a status the
  operation documents; every error answer of the admin port is a JSON object that says what
  was wrong;
- afterwards the process is alive, `/health` answers 200 on both ports, and its resident set
  stays under 500 MB.

Schemathesis runs with a fixed seed, one worker and a fixed number of examples per
operation; the raw test runs hypothesis derandomized, so each run sends the same requests.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, REAL_WORLD, needs_real_world
from tests.fuzz_support import (
    PROBLEM_JSON,
    Exchange,
    SchemathesisRun,
    ServedMock,
    rss_bytes,
    run_schemathesis,
    serve,
)

RSS_LIMIT = 500 * 1024 * 1024
#: Seconds one schemathesis run may take before it counts as a hang.
RUN_DEADLINE_S = 150.0


@dataclass(frozen=True)
class Target:
    """A description to serve, the `mockloop serve` flags, and how hard to fuzz it."""

    spec: Path
    flags: tuple[str, ...]
    max_examples: int
    fuzz_admin: bool


def _real_world(name: str) -> Path:
    return REAL_WORLD / name


# Swagger 2.0 with auth simulation on, OpenAPI 3.1, then real-world OpenAPI 3.0: a small one,
# a CRUD one served statefully, and a large one routed by query discriminators.
TARGETS = [
    pytest.param(
        Target(FIXTURES / "specs" / "swagger2.yaml", (), 5, fuzz_admin=True),
        id="swagger2-auth",
    ),
    pytest.param(
        Target(FIXTURES / "specs" / "openapi31.yaml", ("--no-auth",), 5, fuzz_admin=False),
        id="openapi31",
    ),
    *(
        pytest.param(
            Target(_real_world(name), flags, examples, fuzz_admin=admin),
            id=name.removesuffix(".json"),
            marks=needs_real_world,
        )
        for name, flags, examples, admin in (
            ("va.gov_facilities.json", ("--no-auth",), 3, False),
            ("pocketsmith.com.json", ("--no-auth", "--stateful"), 2, True),
            ("amazonaws.com_monitoring.json", ("--no-auth",), 1, False),
        )
    ),
]


def _documented_statuses(spec_path: Path) -> tuple[dict[str, set[str]], str]:
    """The response keys each operation documents, by schemathesis label ("GET /path"),
    and the description's base path."""
    from mockloop.spec import load_spec

    spec = load_spec(str(spec_path))
    return {f"{op.method.upper()} {op.path}": set(op.responses) for op in spec.operations}, (
        spec.base_path
    )


def _documented(status: int, keys: set[str]) -> bool:
    code = str(status)
    return bool({code, f"{code[0]}XX", f"{code[0]}xx", "default"} & keys)


def _problems_of_business_run(
    run: SchemathesisRun, documented: dict[str, set[str]], base_path: str
) -> list[str]:
    """Every exchange that breaks a business-port property, one line each."""
    problems = [f"error: {error}" for error in run.errors]
    for exchange in run.exchanges:
        status = exchange.status
        if status is None:
            problems.append(f"no answer: {exchange.describe()}")
            continue
        if status >= 500 or exchange.failed_checks:
            problems.append(exchange.describe())
            continue
        if status < 400 or exchange.content_type.startswith(PROBLEM_JSON):
            continue
        method, _, path = exchange.label.partition(" ")
        keys = documented.get(exchange.label) or documented.get(
            f"{method} {path.removeprefix(base_path)}", set()
        )
        if not _documented(status, keys):
            problems.append(f"undocumented status without problem+json: {exchange.describe()}")
    return problems


def _says_what_was_wrong(exchange: Exchange) -> bool:
    """An admin error answer is a JSON object with a non-empty detail or title."""
    if "json" not in exchange.content_type:
        return False
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("detail") or body.get("title"))


def _problems_of_admin_run(run: SchemathesisRun) -> list[str]:
    problems = [f"error: {error}" for error in run.errors]
    for exchange in run.exchanges:
        status = exchange.status
        if status is None or status >= 500 or exchange.failed_checks:
            problems.append(exchange.describe())
        elif status >= 400 and not _says_what_was_wrong(exchange):
            problems.append(f"error answer says nothing: {exchange.describe()}")
    return problems


def _assert_alive_and_bounded(mock: ServedMock) -> None:
    assert mock.alive(), "\n".join(mock.output)
    assert mock.health().status_code == 200
    assert mock.health(mock.admin_url).status_code == 200
    rss = rss_bytes(mock.pid)
    assert rss < RSS_LIMIT, f"the mock holds {rss / 2**20:.0f} MB"


def _summary(problems: list[str]) -> str:
    return f"{len(problems)} problems:\n" + "\n".join(problems[:25])


@pytest.mark.parametrize("target", TARGETS)
def test_schemathesis_finds_no_server_error_hang_or_leak(target: Target, tmp_path: Path) -> None:
    documented, base_path = _documented_statuses(target.spec)
    with serve(target.spec, tmp_path / "data", *target.flags) as mock:
        business = run_schemathesis(
            str(target.spec),
            mock.business_url + base_path,
            tmp_path / "business",
            max_examples=target.max_examples,
            timeout_s=RUN_DEADLINE_S,
        )
        assert business.exit_code is not None, business.errors
        assert business.operations_selected > 0, business.output[-2000:]
        # A run where every request was refused would pass vacuously.
        assert any(e.status is not None and e.status < 300 for e in business.exchanges)
        assert any(e.mode == "negative" for e in business.exchanges)
        problems = _problems_of_business_run(business, documented, base_path)
        assert not problems, _summary(problems)
        assert business.exit_code == 0, business.output[-3000:]
        _assert_alive_and_bounded(mock)

        if target.fuzz_admin:
            admin = run_schemathesis(
                f"{mock.admin_url}/openapi.json",
                mock.admin_url,
                tmp_path / "admin",
                max_examples=3,
                timeout_s=RUN_DEADLINE_S,
            )
            assert admin.exit_code is not None, admin.errors
            assert admin.operations_selected > 0, admin.output[-2000:]
            labels = {e.label for e in admin.exchanges}
            assert "POST /api/state/reset" in labels and "PUT /api/proxy" in labels
            problems = _problems_of_admin_run(admin)
            assert not problems, _summary(problems)
            assert admin.exit_code == 0, admin.output[-3000:]
            _assert_alive_and_bounded(mock)


# -- raw bytes against the HTTP parser --------------------------------------------------------

_TOKENS = st.sampled_from(
    [b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT", b"G\x00T", b"", b"get"]
)
_TARGETS = st.sampled_from(
    [b"/pets", b"/pets/1", b"*", b"/", b"http://127.0.0.1/pets", b"/%", b"/\xff\xfe", b"//"]
)
_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b"", b"HTTP/1.1 x"])
_HEADER_NAMES = st.sampled_from(
    [b"Host", b"Content-Length", b"Transfer-Encoding", b"Content-Type", b"X-Session-ID", b"X"]
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(
        [b"127.0.0.1", b"-1", b"99999999999999999999", b"chunked", b"application/json", b""]
    ),
    st.binary(max_size=40),
)
_SEPARATORS = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\n "])


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    """A request line and header block built from plausible and broken pieces, a body,
    or plain random bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(min_size=1, max_size=300))
    separator = draw(_SEPARATORS)
    line = b" ".join(
        [draw(_TOKENS), draw(_TARGETS) + draw(st.binary(max_size=20)), draw(_VERSIONS)]
    )
    repeat = draw(st.sampled_from([1, 1, 1, 600]))
    headers = [
        draw(_HEADER_NAMES) + draw(st.sampled_from([b": ", b":", b" : ", b""])) + value * repeat
        for value in draw(st.lists(_HEADER_VALUES, max_size=6))
    ]
    body = draw(st.binary(max_size=200))
    return separator.join([line, *headers, b"", body])


def _exchange(address: tuple[str, int], payload: bytes) -> bytes:
    """Send `payload`, close the sending side, and read what comes back until the server
    closes or 5 s pass."""
    with socket.create_connection(address, timeout=5) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # the server closed first: a refusal, not a failure
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


@pytest.fixture(scope="module")
def raw_target(tmp_path_factory: pytest.TempPathFactory):
    """One mock of the 3.0 fixture for every raw request."""
    folder = tmp_path_factory.mktemp("raw")
    with serve(FIXTURES / "specs" / "openapi30.yaml", folder / "data", "--no-auth") as mock:
        yield mock


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=_requests())
def test_raw_requests_never_take_the_business_port_down(
    raw_target: ServedMock, payload: bytes
) -> None:
    host, port = raw_target.business_url.removeprefix("http://").split(":")
    answer = _exchange((host, int(port)), payload)
    if answer:
        assert answer.startswith(b"HTTP/1."), answer[:200]
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        # 501 and 505 refuse a transfer coding or HTTP version; any other 5xx is a fault.
        assert status < 500 or status in (501, 505), answer[:500]
        if status >= 400:
            assert f"content-type: {PROBLEM_JSON}" in head, answer[:500]
    assert raw_target.alive(), "\n".join(raw_target.output)
    assert raw_target.health().status_code == 200


def test_raw_target_is_bounded_after_the_raw_requests(raw_target: ServedMock) -> None:
    # Runs after the hypothesis test above (same module fixture): the process survived it.
    _assert_alive_and_bounded(raw_target)
