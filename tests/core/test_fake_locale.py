"""Realistic data from Faker: localized pools, determinism, `--locale`, lazy import."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockloop.errors import ConfigError
from mockloop.fake import SchemaFaker
from mockloop.fake.faker import WARM_NAMES, _property_names  # pyright: ignore[reportPrivateUsage]
from mockloop.fake.pools import available_locales, check_locale, pool, pools_built
from mockloop.fake.values import format_value, string_value, value_for_name
from mockloop.mock import MockConfig
from mockloop.mock.scenarios.matching import RequestView
from mockloop.mock.scenarios.templates import RenderContext, render_value
from mockloop.mock.server import MockServer

FIELDS = ["name", "firstName", "lastName", "email", "city", "street", "company", "jobTitle"]
PERSON: dict[str, Any] = {
    "type": "object",
    "required": FIELDS,
    "properties": {name: {"type": "string"} for name in FIELDS},
}


def _description(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "people", "version": "1"},
        "paths": {
            "/people/{id}": {
                "get": {
                    "operationId": "getPerson",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "a person",
                            "content": {"application/json": {"schema": schema}},
                        }
                    },
                }
            }
        },
    }


def test_pools_are_localized_and_fixed() -> None:
    german, american = pool("de_DE", "city"), pool("en_US", "city")
    assert german != american
    assert "Berlin" in pool("de_DE", "city") or any("stadt" in c.lower() for c in german)
    assert all(iban.startswith("DE") for iban in pool("de_DE", "iban")[:20])
    assert pool("de_DE", "city") is german  # built once


def test_german_values_come_from_the_german_pools() -> None:
    value = SchemaFaker({}, seed=3, locale="de_DE").generate(PERSON, key="GET /people/1")
    assert value["name"] in pool("de_DE", "full_name")
    assert value["firstName"] in pool("de_DE", "first_name")
    assert value["lastName"] in pool("de_DE", "last_name")
    assert value["city"] in pool("de_DE", "city")
    assert value["street"] in pool("de_DE", "street_address")
    assert value["company"] in pool("de_DE", "company")
    assert value["jobTitle"] in pool("de_DE", "job")
    user = value["email"].removesuffix("@example.com")
    assert user in pool("de_DE", "user_name")


def test_same_seed_same_body_other_seed_other_body() -> None:
    def body(seed: int, key: str) -> Any:
        return SchemaFaker({}, seed=seed, locale="de_DE").generate(PERSON, key=key)

    assert body(1, "GET /people/1") == body(1, "GET /people/1")
    assert body(1, "GET /people/1") != body(2, "GET /people/1")
    # stable per path parameters: another id, another person; the same id, the same one
    assert body(1, "GET /people/2") != body(1, "GET /people/1")
    assert body(1, "GET /people/2") == body(1, "GET /people/2")


def test_values_do_not_depend_on_which_pools_were_built_first() -> None:
    code = (
        "from mockloop.fake.pools import pool\n"
        "{first}\n"
        "print(pool('fr_FR', 'city')[:5], pool('fr_FR', 'company')[:5])\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code.format(first=first)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for first in ("pool('fr_FR', 'company')", "pool('fr_FR', 'job')")
    ]
    assert runs[0] == runs[1] and "[" in runs[0]


def test_constraints_still_win_over_the_pools() -> None:
    faker = SchemaFaker({}, seed=0, locale="de_DE")
    short = {"type": "string", "maxLength": 3}
    for seed in range(10):
        value = faker.generate(short, key=str(seed), field_name="city")
        assert isinstance(value, str) and len(value) <= 3
    email = faker.generate({"type": "string", "format": "email"}, key="e", field_name="contact")
    assert email.endswith("@example.com") and email.isascii()
    code = faker.generate({"type": "string", "pattern": "^[A-Z]{2}$"}, field_name="country")
    assert len(code) == 2 and code.isupper()


def test_more_names_map_to_the_library() -> None:
    rng = random.Random(0)
    assert value_for_name("jobTitle", "string", rng, "de_DE") in pool("de_DE", "job")
    assert value_for_name("iban", "string", rng, "de_DE") in pool("de_DE", "iban")
    assert value_for_name("userAgent", "string", rng) in pool("en_US", "user_agent")
    region = value_for_name("billingState", "string", rng, "en_US")
    assert region[0] in pool("en_US", "state") and region[1] in pool("en_US", "state_abbr")
    assert value_for_name("state", "string", rng) in ("active", "pending", "completed", "archived")


def test_locale_is_checked_and_normalized() -> None:
    assert check_locale("de-DE") == "de_DE"
    assert MockConfig.build(spec="x.yaml", locale="ja_jp").locale == "ja_JP"
    with pytest.raises(ConfigError) as caught:
        MockConfig.build(spec="x.yaml", locale="xx_YY")
    assert "unknown locale 'xx_YY'" in str(caught.value)
    assert "de_DE" in str(caught.value) and "AVAILABLE_LOCALES" in str(caught.value)
    with pytest.raises(ConfigError, match="such as de, de_AT, de_CH, de_DE"):
        check_locale("de_XX")


def test_every_faker_locale_is_accepted() -> None:
    from faker.config import AVAILABLE_LOCALES

    assert available_locales() == list(AVAILABLE_LOCALES)
    for locale in ("en_AU", "en_CA", "en_PH", "en", "de", "es", "th", "it_CH", "ar_AE", "fil_PH"):
        assert check_locale(locale) == locale
    assert check_locale("EN-au") == "en_AU"


def test_a_huge_refused_locale_is_not_echoed_in_full() -> None:
    with pytest.raises(ConfigError) as caught:
        check_locale("x" * 100_000)
    message = str(caught.value)
    assert "unknown locale 'xxxx" in message and "...'" in message
    assert len(message) < 400


# RFC 5322 dot-atom: atoms of atext joined by single dots, none at either end.
_DOT_ATOM = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def test_emails_are_dot_atoms_in_every_locale_long_or_cut() -> None:
    shapes = [
        {"type": "string", "format": "email"},
        {"type": "string", "format": "email", "maxLength": 25},
        {"type": "string", "format": "email", "maxLength": 12},
    ]
    for locale in available_locales():
        for seed in range(40):
            for shape in shapes:
                email = string_value(shape, random.Random(seed), "email", locale)
                assert _DOT_ATOM.fullmatch(email), (locale, shape, email)
    # The case the cut got wrong: Greek user names whose 12th character is a dot.
    assert any(user[:12].endswith(".") for user in pool("el_GR", "user_name"))
    for seed in range(2000):
        emails = format_value("email", random.Random(seed), "el_GR")
        assert all(_DOT_ATOM.fullmatch(e) for e in emails), emails


def test_state_codes_are_ascii_letters_and_names_stay_local() -> None:
    for locale in available_locales():
        codes = pool(locale, "state_abbr")
        assert codes and all(c.isascii() and c.isalpha() for c in codes), (locale, codes[:5])
    assert pool("ja_JP", "state_abbr") == pool("en_US", "state_abbr")  # no codes in ja_JP
    assert not all(name.isascii() for name in pool("ja_JP", "state"))  # names: Japanese
    assert pool("it_IT", "state_abbr") != pool("en_US", "state_abbr")  # Italy's own codes
    rng = random.Random(0)
    for name in ("stateCode", "state_abbr", "region_code", "provinceCode"):
        code = value_for_name(name, "string", rng, "hy_AM")
        assert isinstance(code, str) and code.isascii() and code.isalpha(), (name, code)


def _wide(names: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {n: {"type": "string"} for n in names}}
    return {"components": {"schemas": {"Wide": schema}}}


def test_warm_up_looks_at_a_bounded_number_of_names() -> None:
    many = [f"field{i}" for i in range(WARM_NAMES * 3)]
    assert sum(1 for _ in _property_names(_wide(many))) == WARM_NAMES
    faker = SchemaFaker(_wide(many), locale="de_AT")
    thread = faker.warm_up()
    assert thread is not None
    thread.join()
    assert 0 < faker.warmed_names <= WARM_NAMES


def test_warm_up_stops_once_every_pool_is_built() -> None:
    every_kind = [
        "firstName", "lastName", "name", "username", "email", "street", "city", "region",
        "stateCode", "zip", "country", "company", "jobTitle", "phone", "iban", "userAgent",
        "description", "word", "color", "colour", "eyeColor", "hairColor", "favoriteColor",
    ]  # fmt: skip
    faker = SchemaFaker(_wide(every_kind + [f"field{i}" for i in range(5000)]), locale="fr_CH")
    thread = faker.warm_up()
    assert thread is not None
    thread.join()
    assert pools_built("fr_CH")
    assert faker.warmed_names <= len(every_kind)


def test_template_fake_values_use_the_locale() -> None:
    view = RequestView({}, "", [], b"")
    names = set()
    for seed in range(5):
        context = RenderContext(view, "GET", "/", random.Random(seed), locale="de_DE")
        rendered = render_value({"who": "{{fake.name}}", "where": "{{fake.city}}"}, context)
        assert rendered["who"] in pool("de_DE", "full_name")
        assert rendered["where"] in pool("de_DE", "city")
        names.add(rendered["who"])
    assert len(names) > 1


def _imports_faker(code: str) -> bool:
    probe = code + "\nimport sys\nprint('faker' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1] == "True"


def test_faker_is_imported_only_when_a_value_needs_it() -> None:
    assert not _imports_faker("import mockloop, mockloop.fake, mockloop.mock")
    prelude = (
        "from mockloop.fake import SchemaFaker\n"
        "from mockloop.mock import MockConfig\n"
        "MockConfig.build(spec='x.yaml', locale='de_DE')\n"
    )
    plain = (
        "schema = {'type': 'object', 'properties': {'size': {'type': 'integer'},"
        " 'code': {'type': 'string', 'pattern': '^[a-z]{4}$'}, 'when': {'format': 'date'}}}\n"
        "faker = SchemaFaker({'components': {'schemas': {'A': schema}}}, locale='de_DE')\n"
        "thread = faker.warm_up()\n"
        "thread.join()\n"
        "faker.generate(schema, key='k')\n"
    )
    assert not _imports_faker(prelude + plain)
    named = plain.replace("'size'", "'name'").replace("'integer'", "'string'")
    assert _imports_faker(prelude + named)


@pytest.fixture(scope="module")
def german_mock() -> Iterator[MockServer]:
    config = MockConfig.build(
        spec=_description(PERSON),
        port=0,
        admin_port=0,
        auth=False,
        storage=False,
        locale="de_DE",
        seed=7,
    )
    with MockServer(config) as served:
        yield served


def test_served_mock_answers_in_its_locale(german_mock: MockServer) -> None:
    url = german_mock.business_url
    first = httpx.get(f"{url}/people/1").json()
    assert first["city"] in pool("de_DE", "city")
    assert first["name"] in pool("de_DE", "full_name")
    assert httpx.get(f"{url}/people/1").json() == first
    assert httpx.get(f"{url}/people/2").json() != first
    assert german_mock.runtime.faker.locale == "de_DE"
