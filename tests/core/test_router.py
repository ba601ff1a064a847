from mockloop.mock.router import Router, split_template
from mockloop.spec.model import Operation


def _ops(*pairs: tuple[str, str]) -> list[Operation]:
    return [Operation(operation_id=f"op{i}", method=m, path=p) for i, (m, p) in enumerate(pairs)]


def test_literal_beats_parameter_and_params_are_extracted() -> None:
    router = Router(_ops(("get", "/pets/{petId}"), ("get", "/pets/mine"), ("get", "/pets")))
    assert router.match("GET", "/pets/mine").operation.operation_id == "op1"
    found = router.match("GET", "/pets/42")
    assert found.operation.operation_id == "op0"
    assert found.path_params == {"petId": "42"}
    assert router.match("GET", "/pets/").operation.operation_id == "op2"


def test_unknown_path_is_404_and_wrong_method_lists_allowed() -> None:
    router = Router(_ops(("get", "/pets"), ("post", "/pets")))
    assert router.match("GET", "/owners").operation is None
    assert router.match("GET", "/owners").allowed == ()
    wrong = router.match("DELETE", "/pets")
    assert wrong.operation is None
    assert wrong.allowed == ("GET", "POST")


def test_head_falls_back_to_get() -> None:
    router = Router(_ops(("get", "/pets")))
    assert router.match("HEAD", "/pets").operation.operation_id == "op0"


def test_encoded_slash_stays_inside_its_segment() -> None:
    router = Router(_ops(("get", "/files/{name}")))
    found = router.match("GET", "/files/a%2Fb")
    assert found.path_params == {"name": "a/b"}
    assert router.match("GET", "/files/a/b").operation is None


def test_mixed_segments_and_original_parameter_names() -> None:
    router = Router(_ops(("get", "/reports/{report-id}.{format}")))
    found = router.match("GET", "/reports/r1.json")
    assert found.path_params == {"report-id": "r1", "format": "json"}


def test_mixed_segment_values_may_hold_a_newline() -> None:
    router = Router(_ops(("get", "/division/{id}.{format}")))
    assert router.match("GET", "/division/5.a%0Ab").path_params == {"id": "5", "format": "a\nb"}


def test_query_discriminated_paths() -> None:
    router = Router(
        _ops(("get", "/#Action=DescribeAlarms"), ("get", "/?Action=ListMetrics"), ("get", "/"))
    )
    assert (
        router.match("GET", "/", "Action=DescribeAlarms&Version=1").operation.operation_id == "op0"
    )
    assert router.match("GET", "/", "Action=ListMetrics").operation.operation_id == "op1"
    assert router.match("GET", "/", "").operation.operation_id == "op2"
    assert split_template("/#Action=X&Version=2") == ("/", (("Action", "X"), ("Version", "2")))


def test_bare_discriminator_names_require_presence_only() -> None:
    router = Router(_ops(("get", "/events#from&to"), ("get", "/events")))
    assert split_template("/events#from&to") == ("/events", (("from", None), ("to", None)))
    assert (
        router.match("GET", "/events", "from=2024-01-01&to=2024-02-01").operation.operation_id
        == "op0"
    )
    assert router.match("GET", "/events", "from=2024-01-01").operation.operation_id == "op1"


def test_discriminated_without_fallback_is_404() -> None:
    router = Router(_ops(("post", "/#Action=CreateThing")))
    assert router.match("POST", "/", "Action=Other").operation is None


def test_base_path_is_served_too() -> None:
    router = Router(_ops(("get", "/me")), base_path="/v2")
    assert router.match("GET", "/me").operation is not None
    assert router.match("GET", "/v2/me").operation is not None
    assert router.match("GET", "/v3/me").operation is None


def test_router_scales_to_many_operations() -> None:
    ops = _ops(*[("get", f"/r{i}/{{id}}/sub{i % 7}") for i in range(2000)])
    router = Router(ops)
    found = router.match("GET", "/r1999/abc/sub4")
    assert found.operation.operation_id == "op1999"
    assert found.path_params == {"id": "abc"}


def test_bare_names_of_header_parameters_do_not_route() -> None:
    from mockloop.spec.model import Parameter

    op = Operation(
        operation_id="me",
        method="get",
        path="/me#Authentication",
        parameters=[Parameter(name="Authentication", location="header")],
    )
    assert Router([op]).match("GET", "/me").operation is op


# -- query-carrying path keys (`/rest?method=...`, one key per method value) ----------------


def _flickr() -> Router:
    return Router(
        _ops(
            ("get", "/rest?method=flickr.favorites.getList"),
            ("get", "/rest?method=flickr.people.getPhotos"),
            ("get", "/rest?method=flickr.people.getPhotos&extras=all"),
            ("post", "/upload"),
        ),
        base_path="/services",
    )


def test_the_most_specific_query_key_wins() -> None:
    router = _flickr()
    chosen = router.match("GET", "/services/rest", "method=flickr.people.getPhotos&extras=all")
    assert chosen.operation.operation_id == "op2"
    chosen = router.match("GET", "/services/rest", "method=flickr.people.getPhotos&api_key=1")
    assert chosen.operation.operation_id == "op1"


def test_a_key_percent_encoded_into_the_path_is_split_at_the_encoded_question_mark() -> None:
    router = _flickr()
    for raw in (
        "/services/rest%3Fmethod%3Dflickr.people.getPhotos",
        "/services/rest%3fmethod=flickr.people.getPhotos",
        "/rest%3Fmethod%3Dflickr.people.getPhotos",
    ):
        found = router.match("GET", raw, "api_key=1")
        assert found.operation.operation_id == "op1", raw
        assert found.query == "method=flickr.people.getPhotos&api_key=1"
    assert router.match("GET", "/services/rest%3Fmethod%3Dnope").operation is None


def test_an_encoded_question_mark_in_a_routable_path_stays_in_its_segment() -> None:
    router = Router(_ops(("get", "/files/{name}")))
    found = router.match("GET", "/files/a%3Fb")
    assert found.path_params == {"name": "a?b"}
    assert found.query is None


def test_a_query_without_any_discriminating_name_gets_the_first_documented_key() -> None:
    router = _flickr()
    assert router.match("GET", "/services/rest", "api_key=1").operation.operation_id == "op0"
    assert router.match("GET", "/services/rest").operation.operation_id == "op0"


def test_an_undocumented_discriminator_value_is_404_naming_the_documented_values() -> None:
    refused = _flickr().match("GET", "/services/rest", "method=flickr.nope&api_key=1")
    assert refused.operation is None
    assert refused.allowed == ()
    assert refused.detail == (
        "method must be one of flickr.favorites.getList, flickr.people.getPhotos"
    )


def test_a_plain_path_still_wins_over_the_first_key() -> None:
    router = Router(_ops(("get", "/rest?method=a"), ("get", "/rest?method=b"), ("get", "/rest")))
    assert router.match("GET", "/rest", "method=x").operation.operation_id == "op2"
    assert router.match("GET", "/rest", "").operation.operation_id == "op2"
    assert router.match("GET", "/rest", "method=b").operation.operation_id == "op1"


# -- overlapping templates -------------------------------------------------------------------


def test_a_literal_branch_without_the_method_falls_back_to_the_templated_one() -> None:
    router = Router(_ops(("get", "/users/{id}"), ("delete", "/users/{name}"), ("put", "/users/me")))
    found = router.match("GET", "/users/me")
    assert found.operation.operation_id == "op0"
    assert found.path_params == {"id": "me"}
    deleted = router.match("DELETE", "/users/me")
    assert deleted.operation.operation_id == "op1"
    assert deleted.path_params == {"name": "me"}
    assert router.match("PUT", "/users/me").operation.operation_id == "op2"
    assert router.match("HEAD", "/users/me").operation.operation_id == "op0"
    assert router.match("PUT", "/users/5").allowed == ("DELETE", "GET")


def test_405_lists_the_methods_of_every_branch_matching_the_path() -> None:
    router = Router(_ops(("get", "/users/{id}"), ("delete", "/users/{name}"), ("put", "/users/me")))
    refused = router.match("PATCH", "/users/me")
    assert refused.operation is None
    assert refused.allowed == ("DELETE", "GET", "PUT")
    deeper = Router(_ops(("get", "/a/{x}/c"), ("post", "/a/b/{y}")))
    assert deeper.match("GET", "/a/b/c").operation.operation_id == "op0"
    assert deeper.match("PUT", "/a/b/c").allowed == ("GET", "POST")


def test_a_query_refused_by_a_literal_key_falls_through_to_a_template() -> None:
    router = Router(_ops(("get", "/items/search?kind=a"), ("get", "/items/{id}")))
    assert router.match("GET", "/items/search", "kind=a").operation.operation_id == "op0"
    taken = router.match("GET", "/items/search", "kind=b")
    assert taken.operation.operation_id == "op1"
    assert taken.path_params == {"id": "search"}
    assert router.match("GET", "/items/7").operation.operation_id == "op1"
    # With no template beside it, the refusal still names what the key wanted.
    alone = Router(_ops(("get", "/items/search?kind=a")))
    refused = alone.match("GET", "/items/search", "kind=b")
    assert refused.operation is None and refused.detail == "kind must be one of a"
