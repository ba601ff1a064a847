import random

import pytest

from mockloop.errors import ScenarioError
from mockloop.mock.scenarios.rules import (
    Delay,
    RuleEngine,
    check_rules_against,
    parse_rule,
    parse_scenario,
)
from mockloop.spec.model import Operation

OPS = [
    Operation(operation_id="listPets", method="get", path="/pets"),
    Operation(operation_id="createPet", method="post", path="/pets"),
    Operation(operation_id="getPet", method="get", path="/pets/{petId}"),
]


def test_invalid_scenario_names_each_field() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"name": "x", "rules": [{"status": 42, "error_rate": 2, "bogus": 1}]})
    message = str(caught.value)
    assert "rules.0.status" in message
    assert "rules.0.error_rate" in message
    assert "rules.0.bogus" in message


def test_not_an_object_and_missing_name() -> None:
    with pytest.raises(ScenarioError, match="JSON object"):
        parse_scenario(["nope"])
    with pytest.raises(ScenarioError, match="name"):
        parse_scenario({"rules": []})


def test_delay_distribution_needs_its_parameters() -> None:
    with pytest.raises(ScenarioError, match="uniform delay needs"):
        parse_rule({"delay": {"distribution": "uniform", "min_ms": 1}})
    delay = Delay(distribution="uniform", min_ms=10, max_ms=20)
    rng = random.Random(1)
    draws = [delay.draw(rng) for _ in range(200)]
    assert all(0.010 <= d <= 0.020 for d in draws)
    assert Delay(distribution="normal", mean_ms=5, stddev_ms=50).draw(rng) >= 0


def test_rules_select_by_operation_method_and_glob() -> None:
    assert parse_rule({"operation": "getPet"}).selects(OPS[2])
    assert not parse_rule({"operation": "getPet"}).selects(OPS[0])
    by_method = parse_rule({"method": "post", "path": "/pets"})
    assert [op.operation_id for op in OPS if by_method.selects(op)] == ["createPet"]
    glob = parse_rule({"path": "/pets/*"})
    assert [op.operation_id for op in OPS if glob.selects(op)] == ["getPet"]
    assert check_rules_against([parse_rule({"operation": "nope"})], OPS) == [
        "rules[0] (nope) matches no operation"
    ]


def test_engine_sequences_cycle_and_repeat_last() -> None:
    engine = RuleEngine(OPS)
    engine.set_scenario(
        parse_scenario(
            {
                "name": "seq",
                "rules": [
                    {"operation": "listPets", "sequence": [{"status": 200}, {"status": 429}]},
                    {
                        "operation": "getPet",
                        "sequence_end": "repeat_last",
                        "sequence": [{"status": 200}, {"status": 503}],
                    },
                ],
            }
        )
    )
    assert [engine.rule_for(OPS[0])[0].status for _ in range(4)] == [200, 429, 200, 429]
    assert [engine.rule_for(OPS[2])[0].status for _ in range(4)] == [200, 503, 503, 503]
    assert engine.rule_for(OPS[1]) is None


def test_engine_error_rate_is_close_to_configured() -> None:
    engine = RuleEngine(OPS, seed=7)
    engine.set_scenario(
        parse_scenario({"name": "flaky", "rules": [{"error_rate": 0.3, "error_status": 503}]})
    )
    statuses = [engine.rule_for(OPS[0])[0].status for _ in range(5000)]
    share = statuses.count(503) / len(statuses)
    assert 0.27 < share < 0.33


def test_overrides_win_over_the_scenario_and_switch_resets() -> None:
    engine = RuleEngine(OPS)
    engine.set_scenario(parse_scenario({"name": "a", "rules": [{"status": 500}]}))
    engine.set_overrides({"getPet": parse_rule({"operation": "getPet", "status": 404})})
    assert engine.rule_for(OPS[2])[0].status == 404
    assert engine.rule_for(OPS[0])[0].status == 500
    engine.set_scenario(None)
    assert engine.rule_for(OPS[0]) is None
    assert engine.active_scenario is None


@pytest.mark.parametrize("validation", ["enforce", "warn", "off"])
def test_a_rule_for_invalid_requests_is_kept_unless_validation_refuses_them(
    tmp_path, validation: str
) -> None:
    """`"tag": "horse"` is outside NewPet's enum: with validation enforced no request carrying
    it reaches the rules, so the rule is refused on save; otherwise it answers exactly those
    requests, which is what a rule simulating the server's 422 is for."""
    import httpx

    from mockloop.mock import MockConfig, MockServer
    from tests.conftest import PETSTORE

    scenario = {
        "name": "no-horses",
        "rules": [{"operation": "createPet", "when": {"body": {"$.tag": "horse"}}, "status": 422}],
    }
    config = MockConfig(
        spec=str(PETSTORE), port=0, data_dir=tmp_path, auth=False, validation=validation
    )
    with MockServer(config) as server:
        runtime = server.runtime
        if validation == "enforce":
            with pytest.raises(ScenarioError, match=r"when\.body\.\$\.tag.*horse"):
                runtime.save_scenario(scenario)
            with pytest.raises(ScenarioError, match="horse"):
                runtime.set_override("createPet", scenario["rules"][0])
            return
        runtime.save_scenario(scenario)
        runtime.activate_scenario("no-horses")
        horse = {"name": "Ed", "tag": "horse"}
        answer = httpx.post(f"{server.business_url}/v1/pets", json=horse, timeout=10)
        assert answer.status_code == 422
        dog = httpx.post(f"{server.business_url}/v1/pets", json={"name": "Rex", "tag": "dog"})
        assert dog.status_code == 201
