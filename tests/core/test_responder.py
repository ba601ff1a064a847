import xml.etree.ElementTree as ElementTree
from pathlib import Path

import orjson

from mockloop.mock.responder import _negotiate, default_status, encode_body, parse_prefer
from mockloop.spec.model import MediaType, Operation, Response


def test_xml_bodies_are_well_formed_whatever_the_data() -> None:
    body = encode_body({"a b": "x\x0by", "1x": [1, {"k": "<&>"}], "": None}, "text/xml")
    root = ElementTree.fromstring(body)
    assert root.find("a_b").text == "x\ufffdy"
    assert root.find("_1x/item/k").text == "<&>"


def test_json_and_text_encoding() -> None:
    assert orjson.loads(encode_body({"a": 1}, "application/vnd.api+json")) == {"a": 1}
    assert encode_body("plain", "text/plain") == b"plain"
    assert encode_body(None, "application/octet-stream") == b""


def test_prefer_parsing() -> None:
    assert parse_prefer('code=404, example="rex"; dynamic=true') == {
        "code": "404",
        "example": "rex",
        "dynamic": "true",
    }
    assert parse_prefer("respond-async") == {}


def test_negotiation_prefers_accept_then_json() -> None:
    content = {
        "application/xml": MediaType("application/xml"),
        "application/json": MediaType("application/json"),
    }
    assert _negotiate(content, None) == "application/json"
    assert _negotiate(content, "application/xml") == "application/xml"
    assert _negotiate(content, "text/html;q=0.9, application/*;q=0.5") == "application/xml"
    assert _negotiate(content, "image/png") == "application/json"


def test_default_status_is_the_lowest_documented_success() -> None:
    def op(*codes: str) -> Operation:
        return Operation("x", "get", "/x", responses={c: Response(c) for c in codes})

    assert default_status(op("404", "201", "200")) == "200"
    assert default_status(op("201", "400")) == "201"
    assert default_status(op("default")) == "default"
    assert default_status(op("404")) == "404"


def test_a_value_orjson_refuses_is_still_served() -> None:
    body = encode_body({"a": "x\ud800y"}, "application/json")
    assert orjson.loads(body) == {"a": "x?y"}


def test_each_accept_gets_its_own_media_type_on_repeated_requests(tmp_path: Path) -> None:
    """The hot path remembers negotiation per (operation, Accept): never across Accepts."""
    import httpx

    from mockloop.mock.config import MockConfig
    from mockloop.mock.server import MockServer

    spec = tmp_path / "two-media.yaml"
    spec.write_text(
        """openapi: 3.0.3
info: {title: Two media, version: "1"}
paths:
  /thing:
    get:
      operationId: getThing
      responses:
        "200":
          description: A thing.
          content:
            application/json:
              schema: {type: object, properties: {name: {type: string}}}
              example: {name: json}
            application/xml:
              schema: {type: object, properties: {name: {type: string}}}
              example: {name: xml}
"""
    )
    with MockServer(MockConfig.build(spec=str(spec), port=0, auth=False)) as server:
        url = f"{server.business_url}/thing"
        seen = [
            httpx.get(url, headers={"accept": accept}).headers["content-type"]
            for accept in ("application/xml", "application/json", "application/xml", "*/*")
        ]
    assert [kind.split(";")[0] for kind in seen] == [
        "application/xml",
        "application/json",
        "application/xml",
        "application/json",
    ]
