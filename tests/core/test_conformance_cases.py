"""The conformance cases of issue 22, each a small description served as a mock.

Query-carrying path keys, descriptions without operations, overlapping templates and
overlapping `oneOf` branches: every answer must be the documented one, with validation off and
with `enforce`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from mockloop.mock import MockConfig, MockServer
from mockloop.spec import load_spec
from mockloop.spec.model import ApiSpec
from mockloop.spec.validation import SchemaValidator

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "conformance"
MODES = ("off", "enforce")


def _serve(name: str, validation: str, seed: int = 0) -> MockServer:
    return MockServer(
        MockConfig(
            spec=str(CASES / name),
            port=0,
            storage=False,
            validation=validation,  # type: ignore[arg-type]
            seed=seed,
        )
    )


def _schema(spec: ApiSpec, operation_id: str, status: str) -> dict[str, Any]:
    op = next(op for op in spec.operations if op.operation_id == operation_id)
    schema = op.responses[status].content["application/json"].schema
    assert schema is not None
    return schema


def _assert_documented(
    spec: ApiSpec, response: httpx.Response, operation_id: str, status: int = 200
) -> None:
    assert response.status_code == status, response.text
    errors = SchemaValidator(spec.document).errors(
        _schema(spec, operation_id, str(status)), response.json(), direction="response"
    )
    assert errors == []


@pytest.fixture(scope="module")
def query_spec() -> ApiSpec:
    return load_spec(CASES / "query_keys.yaml")


@pytest.fixture(params=MODES)
def query_mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with _serve("query_keys.yaml", request.param) as server:
        yield server


def test_query_keys_route_by_their_own_query(query_spec: ApiSpec, query_mock: MockServer) -> None:
    url = query_mock.business_url
    answer = httpx.get(f"{url}/services/rest?method=flickr.favorites.getList&page=2")
    _assert_documented(query_spec, answer, "getFavorites")
    answer = httpx.get(f"{url}/services/rest?method=flickr.people.getPhotos&api_key=1")
    _assert_documented(query_spec, answer, "getPhotos")
    assert "photos" in answer.json()


def test_query_keys_percent_encoded_into_the_path(
    query_spec: ApiSpec, query_mock: MockServer
) -> None:
    url = query_mock.business_url
    encoded = quote("/rest?method=flickr.people.getPhotos")
    assert "%3F" in encoded
    _assert_documented(query_spec, httpx.get(f"{url}/services{encoded}"), "getPhotos")
    mixed = f"{url}/services/rest%3Fmethod=flickr.favorites.getList?api_key=k"
    _assert_documented(query_spec, httpx.get(mixed), "getFavorites")


def test_query_keys_with_only_the_declared_parameters_get_the_first_key(
    query_spec: ApiSpec, query_mock: MockServer
) -> None:
    # httpx's `params=` replaces the URL's query: the discriminator is lost.
    answer = httpx.get(
        f"{query_mock.business_url}/services/rest?method=flickr.people.getPhotos",
        params={"api_key": "1"},
    )
    assert answer.request.url.query == b"api_key=1"
    _assert_documented(query_spec, answer, "getFavorites")


def test_an_undocumented_method_value_is_404_naming_the_documented_ones(
    query_mock: MockServer,
) -> None:
    answer = httpx.get(f"{query_mock.business_url}/services/rest?method=flickr.nope")
    assert answer.status_code == 404
    assert answer.json()["detail"].endswith(
        "method must be one of flickr.favorites.getList, flickr.people.getPhotos"
    )


@pytest.mark.parametrize("validation", MODES)
@pytest.mark.parametrize("name", ["webhooks_only.yaml", "empty_paths.yaml"])
def test_a_description_without_operations_serves_health_docs_and_404(
    name: str, validation: str
) -> None:
    spec = load_spec(CASES / name)
    assert spec.operations == []
    assert any("describes no operations" in warning for warning in spec.warnings)
    with _serve(name, validation) as server:
        url = server.business_url
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200
        assert health.json()["operations"] == 0
        assert httpx.get(f"{url}/docs").status_code == 200
        missing = httpx.post(f"{url}/newPet", json={})
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


def test_a_description_without_operations_has_a_working_admin_api(tmp_path: Path) -> None:
    config = MockConfig(
        spec=str(CASES / "webhooks_only.yaml"), port=0, admin_port=0, data_dir=tmp_path
    )
    with MockServer(config) as server:
        assert server.admin_url is not None
        operations = httpx.get(f"{server.admin_url}/api/operations")
        assert operations.status_code == 200
        assert operations.json() == []


@pytest.mark.parametrize("validation", MODES)
def test_overlapping_templates_route_every_documented_method(validation: str) -> None:
    spec = load_spec(CASES / "overlapping_templates.yaml")
    with _serve("overlapping_templates.yaml", validation) as server:
        url = server.business_url
        _assert_documented(spec, httpx.get(f"{url}/users/me"), "getUser")
        _assert_documented(spec, httpx.get(f"{url}/users/42"), "getUser")
        _assert_documented(spec, httpx.put(f"{url}/users/me", json={}), "updateMe")
        assert httpx.delete(f"{url}/users/me").status_code == 204
        refused = httpx.patch(f"{url}/users/me", json={})
        assert refused.status_code == 405
        assert refused.headers["allow"] == "DELETE, GET, PUT"
        assert httpx.put(f"{url}/users/42", json={}).headers["allow"] == "DELETE, GET"


@pytest.mark.parametrize("validation", MODES)
def test_overlapping_one_of_items_are_valid_under_exactly_one_branch(validation: str) -> None:
    spec = load_spec(CASES / "oneof_overlap.yaml")
    schema = _schema(spec, "listArticles", "200")
    branches = schema["properties"]["included"]["items"]["oneOf"]
    resolver_doc = spec.document
    checked = 0
    for seed in range(6):
        with _serve("oneof_overlap.yaml", validation, seed=seed) as server:
            answer = httpx.get(f"{server.business_url}/articles")
        _assert_documented(spec, answer, "listArticles")
        for item in answer.json()["included"]:
            accepted = [
                branch
                for branch in branches
                if jsonschema.Draft202012Validator(
                    {**branch, "components": resolver_doc["components"]}
                ).is_valid(item)
            ]
            assert len(accepted) == 1, item
            checked += 1
    assert checked >= 12
