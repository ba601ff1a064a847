"""Rate limiting: a whole-mock limit and per-rule limits answer 429 with Retry-After and the
RateLimit-* headers, using the description's documented 429 when there is one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockloop.cli import main as cli_main
from mockloop.errors import ScenarioError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.config import RateLimit, parse_rate
from mockloop.mock.scenarios.ratelimit import RateLimiter
from mockloop.mock.scenarios.rules import parse_scenario
from tests.conftest import PETSTORE

KEY = {"X-API-Key": "k"}

THROTTLED_API: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Throttled", "version": "1"},
    "paths": {
        "/quota": {
            "get": {
                "operationId": "getQuota",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"example": {"left": 1}}},
                    },
                    "429": {
                        "description": "slow down",
                        "content": {
                            "application/json": {"example": {"code": "TOO_MANY", "hint": "wait"}}
                        },
                    },
                },
            }
        },
        "/free": {"get": {"operationId": "getFree", "responses": {"200": {"description": "ok"}}}},
    },
}


def test_the_whole_mock_limit_answers_429_with_its_headers() -> None:
    config = MockConfig(spec=str(PETSTORE), port=0, storage=False, rate_limit=parse_rate("3/m"))
    with MockServer(config) as mock:
        remaining = []
        for _ in range(3):
            answer = httpx.get(f"{mock.business_url}/pets/1", headers=KEY)
            assert answer.status_code == 200
            remaining.append(answer.headers["ratelimit-remaining"])
            assert answer.headers["ratelimit-policy"] == "3;w=60"
        assert remaining == ["2", "1", "0"]
        refused = httpx.get(f"{mock.business_url}/pets/2", headers=KEY)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 20  # one token per 20 s
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert "rate limit of 3 requests per 60 s per client exceeded" in refused.json()["detail"]


def test_a_documented_429_is_served_and_sessions_have_their_own_buckets() -> None:
    limit = parse_rate("1/h", scope="session")
    config = MockConfig(spec=THROTTLED_API, port=0, storage=False, rate_limit=limit)
    with MockServer(config) as mock:
        alice = {"X-Session-ID": "alice"}
        assert httpx.get(f"{mock.business_url}/quota", headers=alice).status_code == 200
        refused = httpx.get(f"{mock.business_url}/quota", headers=alice)
        assert refused.status_code == 429
        assert refused.json() == {"code": "TOO_MANY", "hint": "wait"}  # the description's
        assert int(refused.headers["retry-after"]) > 3000
        bob = httpx.get(f"{mock.business_url}/quota", headers={"X-Session-ID": "bob"})
        assert bob.status_code == 200


def test_a_rule_limits_what_it_selects_only() -> None:
    config = MockConfig(spec=THROTTLED_API, port=0, admin_port=0, storage=False)
    with MockServer(config) as mock:
        scenario = {
            "name": "tight",
            "rules": [
                {
                    "operation": "getQuota",
                    "rate_limit": {"requests": 2, "per_seconds": 3600, "scope": "global"},
                    "body": {"left": "plenty"},
                }
            ],
        }
        created = httpx.post(
            f"{mock.admin_url}/api/mock-data/scenarios", params={"activate": True}, json=scenario
        )
        assert created.status_code == 201, created.text
        first = httpx.get(f"{mock.business_url}/quota")
        assert first.json() == {"left": "plenty"}
        assert first.headers["ratelimit-remaining"] == "1"
        assert httpx.get(f"{mock.business_url}/quota").status_code == 200
        assert httpx.get(f"{mock.business_url}/quota").status_code == 429
        for _ in range(5):
            assert httpx.get(f"{mock.business_url}/free").status_code == 200


def test_buckets_refill_at_the_rate_and_keep_a_bounded_number_of_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimit(requests=2, per_seconds=10, burst=4), clock=lambda: now[0])
    results = [limiter.take("c:a")[0] for _ in range(5)]
    assert results == [True, True, True, True, False]  # the burst, then empty
    now[0] = 5.0  # one token back (2 per 10 s)
    assert limiter.take("c:a")[0] is True
    assert limiter.take("c:a")[0] is False
    assert limiter.key("1.2.3.4", None) == "c:1.2.3.4"
    session = RateLimiter(RateLimit(requests=1, scope="session"))
    assert session.key("1.2.3.4", "s1") == "s:s1" and session.key("1.2.3.4", None) == "c:1.2.3.4"


def test_bad_limits_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="is not a rate: write REQUESTS/UNIT"):
        parse_rate("ten per second")
    with pytest.raises(ScenarioError, match=r"rules\.0\.rate_limit\.requests"):
        parse_scenario({"name": "x", "rules": [{"rate_limit": {"requests": 0}}]})
    assert cli_main(["serve", str(PETSTORE), "--rate-limit", "fast"]) == 2
    assert cli_main(["serve", str(PETSTORE), "--rate-limit-burst", "3"]) == 2


def test_a_refused_call_takes_no_step_and_unrelated_changes_keep_the_buckets() -> None:
    from tests.waiting import wait_for

    config = MockConfig(spec=THROTTLED_API, port=0, admin_port=0, storage=False)
    with MockServer(config) as mock:
        admin = mock.admin_url
        scenario = {
            "name": "steps",
            "rules": [
                {
                    "operation": "getQuota",
                    "rate_limit": {"requests": 1, "per_seconds": 1, "scope": "global"},
                    "sequence": [{"body": {"step": 1}}, {"body": {"step": 2}}],
                }
            ],
        }
        httpx.post(f"{admin}/api/mock-data/scenarios", params={"activate": True}, json=scenario)
        url = f"{mock.business_url}/quota"
        assert httpx.get(url).json() == {"step": 1}
        assert httpx.get(url).status_code == 429
        # Every refused poll below leaves the sequence where it was: the next 200 is step 2.
        answered = wait_for(lambda: (r := httpx.get(url)).status_code == 200 and r, "a token")
        assert answered.json() == {"step": 2}

        tight = {
            "name": "tight",
            "rules": [
                {
                    "operation": "getQuota",
                    "rate_limit": {"requests": 1, "per_seconds": 3600, "scope": "global"},
                }
            ],
        }
        httpx.post(f"{admin}/api/mock-data/scenarios", params={"activate": True}, json=tight)
        assert httpx.get(url).status_code == 200
        assert httpx.get(url).status_code == 429
        # An override of another operation rebuilds the rules; this limit's bucket stays empty.
        changed = httpx.put(f"{admin}/api/mock-data/responses/getFree", json={"status": 204})
        assert changed.status_code == 200
        assert httpx.get(url).status_code == 429


def test_fractional_and_large_rates_send_integer_fields() -> None:
    slow = RateLimiter(parse_rate("0.5/s"))
    allowed, headers = slow.take("c:x")
    assert allowed  # one request every 2 s, not none ever
    assert dict(headers)[b"ratelimit-policy"] == b"1;w=2"
    big = RateLimiter(parse_rate("1000000/h"))
    assert dict(big.take("c:x")[1])[b"ratelimit-policy"] == b"1000000;w=3600"
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        RateLimit(requests=10, burst=0.5)
