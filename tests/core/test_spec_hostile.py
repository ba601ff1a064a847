"""Hostile descriptions: devices, FIFOs, bombs, deep nesting, $refs out of bounds, and fetches
turned against the host. Each is refused with one SpecError line, promptly, and nothing but
loopback is ever connected to."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest

from mockloop.errors import ConfigError, SpecError
from mockloop.spec import fetch as fetch_module
from mockloop.spec import load_spec
from mockloop.spec.fetch import FetchPolicy
from mockloop.spec.refs import Documents

_OPENAPI = """\
openapi: 3.0.3
info: {title: Hostile, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "<<ref>>"}
"""
_THING = "type: object\nproperties:\n  name: {type: string}\n"


def _spec_with_ref(ref: str) -> str:
    return _OPENAPI.replace("<<ref>>", ref)


def _load_in_thread(source: Any, **options: Any) -> BaseException | None:
    """Load in a thread that must finish within 10 s (a FIFO must not hang the test run)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load_spec(source, **options)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"loading {source} did not return"
    return outcome[0]


def _alias_bomb() -> str:
    lines = [
        "openapi: 3.0.3",
        'info: {title: bomb, version: "1"}',
        "x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"x-{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
        previous = name
    lines.append(_OPENAPI.split("paths:", 1)[1].replace('schema: {$ref: "<<ref>>"}', ""))
    lines[-1] = "paths:" + lines[-1].rstrip() + f"\n              example: *{previous}"
    return "\n".join(lines) + "\n"


def _deep_json(depth: int) -> str:
    head = '{"openapi": "3.0.3", "info": {"title": "deep", "version": "1"}, "paths": {}, "x": '
    return head + "[" * depth + "]" * depth + "}"


# -- local files ---------------------------------------------------------------------------


def test_devices_fifos_sockets_and_folders_are_refused_before_any_read(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    sock_path = tmp_path / "spec.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        cases = {
            "/dev/zero": "is a character device, not a file: only regular files are read",
            str(fifo): "is a FIFO (named pipe), not a file: only regular files are read",
            str(sock_path): "is a socket, not a file: only regular files are read",
            str(tmp_path): "is a folder, not a description file",
        }
        for source, expected in cases.items():
            error = _load_in_thread(source)
            assert isinstance(error, SpecError), source
            assert expected in str(error)


def test_a_ref_to_a_device_or_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "fifo.yaml").write_text(_spec_with_ref("pipe.yaml"))
    error = _load_in_thread(tmp_path / "fifo.yaml")
    assert isinstance(error, SpecError)
    assert "pipe.yaml is a FIFO (named pipe)" in str(error)
    # /dev is outside the description's folder; with the root widened the device is refused.
    (tmp_path / "zero.yaml").write_text(_spec_with_ref("/dev/zero"))
    error = _load_in_thread(tmp_path / "zero.yaml", refs_root="/")
    assert isinstance(error, SpecError)
    assert "/dev/zero is a character device" in str(error)


def test_a_document_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(_spec_with_ref("#/components/schemas/X") + "x-padding: '" + "a" * 4096 + "'\n")
    with pytest.raises(SpecError, match=r"big\.yaml is larger than 2 KiB, the limit on one "):
        load_spec(big, max_bytes=2048)
    # Each document of a description is held to the limit, not only the first.
    (tmp_path / "part.yaml").write_text(_THING + "x-padding: '" + "a" * 4096 + "'\n")
    (tmp_path / "api.yaml").write_text(_spec_with_ref("part.yaml"))
    with pytest.raises(SpecError, match=r"part\.yaml is larger than 2 KiB.*--max-spec-size"):
        load_spec(tmp_path / "api.yaml", max_bytes=2048)
    with pytest.raises(SpecError, match="the text is larger than 1 KiB"):
        load_spec(_spec_with_ref("#/x") + "x: '" + "a" * 2048 + "'\n", max_bytes=1024)


def test_yaml_alias_and_merge_bombs_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    with pytest.raises(SpecError) as caught:
        load_spec(bomb)
    message = str(caught.value)
    assert "YAML aliases expand the document to 8,335,593,969 nodes from 32 written" in message
    assert "alias bomb" in message and "\n" not in message

    lines = ["openapi: 3.0.3", 'info: {title: merge, version: "1"}', "x-m0: &m0 {k0: 0}"]
    lines += [f"x-m{i}: &m{i} {{<<: *m{i - 1}, k{i}: {i}}}" for i in range(1, 3000)]
    lines.append("paths: {/a: {get: {responses: {'200': {description: ok}}}}}")
    (tmp_path / "merge.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"merge keys \(<<\) copy more entries .* alias bomb"):
        load_spec(tmp_path / "merge.yaml")


def test_anchors_used_as_intended_still_load(tmp_path: Path) -> None:
    text = """\
openapi: 3.0.3
info: {title: anchors, version: "1"}
x-error: &error
  description: failed
  content: {application/json: {schema: {type: object, properties: {code: {type: integer}}}}}
paths:
  /a:
    get:
      responses: {"200": {description: ok}, "400": *error, "500": {<<: *error, description: x}}
"""
    (tmp_path / "anchors.yaml").write_text(text)
    spec = load_spec(tmp_path / "anchors.yaml")
    assert set(spec.operation("get_a").responses) == {"200", "400", "500"}


def test_deep_nesting_is_one_spec_error_never_a_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text(_deep_json(3000))
    with pytest.raises(SpecError, match=r"deep\.json: nested deeper than 128 levels"):
        load_spec(tmp_path / "deep.json")
    (tmp_path / "deep.yaml").write_text(_deep_json(3000))  # flow-style YAML reads the same
    with pytest.raises(SpecError, match="nested deeper than 128 levels"):
        load_spec(tmp_path / "deep.yaml")
    with pytest.raises(SpecError, match="nested deeper than 128 levels"):
        load_spec(_deep_json(3000))
    nested: dict[str, Any] = {}
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "x": nested}
    for _ in range(5000):
        nested["a"] = {}
        nested = nested["a"]
    with pytest.raises(SpecError, match=r"<dict>: nested deeper than 128 levels"):
        load_spec(document)


def test_deep_schemas_within_the_limit_load_and_serve(tmp_path: Path) -> None:
    """A schema nested 110 levels (inside the 128-level limit) is served without a 5xx."""
    import httpx

    from mockloop.mock import MockConfig
    from mockloop.mock.server import MockServer

    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(110):
        schema = {"type": "array", "items": schema, "minItems": 1}
    json_schema = {"application/json": {"schema": schema}}
    document = {
        "openapi": "3.0.3",
        "info": {"title": "deep", "version": "1"},
        "paths": {
            "/a": {
                "get": {"responses": {"200": {"description": "ok", "content": json_schema}}},
                "post": {
                    "requestBody": {"content": json_schema},
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
    }
    (tmp_path / "deep.json").write_text(json.dumps(document))
    config = MockConfig(spec=str(tmp_path / "deep.json"), port=0, storage=False)
    server = MockServer(config).start()
    try:
        assert httpx.get(f"{server.business_url}/a", timeout=30).status_code == 200
        body: Any = 1
        for _ in range(110):
            body = [body]
        answer = httpx.post(f"{server.business_url}/a", json=body, timeout=30)
        assert answer.status_code in (200, 422), answer.text
        assert httpx.get(f"{server.business_url}/health", timeout=30).status_code == 200
    finally:
        server.stop()


# -- the $ref root -------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp/spec/api.yaml refers to tmp/components/thing.yaml (a shared folder beside it)."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "thing.yaml").write_text(_THING)
    (tmp_path / "spec" / "api.yaml").write_text(_spec_with_ref("../components/thing.yaml"))
    return tmp_path


def test_refs_to_system_files_and_outside_the_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "passwd.yaml").write_text(_spec_with_ref("/etc/passwd"))
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "passwd.yaml", widen_refs_root_to_cwd=True)
    message = str(caught.value)
    assert f"$ref '/etc/passwd' reads /etc/passwd, outside {tmp_path.resolve()}" in message
    assert "--refs-root DIR (refs_root)" in message and "root:" not in message

    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "api.yaml").write_text(_spec_with_ref("../outside.yaml"))
    (tmp_path / "outside.yaml").write_text(_THING)
    with pytest.raises(SpecError, match=r"\$ref '\.\./outside\.yaml' reads .*outside\.yaml, out"):
        load_spec(tmp_path / "inner" / "api.yaml")
    with pytest.raises(SpecError, match=r"\$ref 'file:///etc/passwd' reads /etc/passwd, outside"):
        (tmp_path / "file.yaml").write_text(_spec_with_ref("file:///etc/passwd"))
        load_spec(tmp_path / "file.yaml")


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "secret.yaml").write_text(_THING)
    (tmp_path / "spec" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    (tmp_path / "spec" / "api.yaml").write_text(_spec_with_ref("link.yaml"))
    with pytest.raises(SpecError, match=r"\$ref 'link\.yaml' reads .*secret\.yaml, outside"):
        load_spec(tmp_path / "spec" / "api.yaml")


def test_a_symlink_swapped_in_after_the_root_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "secret.yaml").write_text("type: object\ndescription: the secret\n")
    thing = tmp_path / "spec" / "thing.yaml"
    thing.write_text(_THING)
    (tmp_path / "spec" / "api.yaml").write_text(_spec_with_ref("thing.yaml"))
    checked = thing.resolve()
    admit = Documents._admit  # pyright: ignore[reportPrivateUsage]

    def admit_then_swap(self: Documents, *args: Any) -> None:
        admit(self, *args)  # the path passed the root check: now a link replaces the file
        thing.unlink()
        thing.symlink_to(tmp_path / "secret.yaml")

    monkeypatch.setattr(Documents, "_admit", admit_then_swap)
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "spec" / "api.yaml")
    assert f"{checked} is a symbolic link, which is not followed here" in str(caught.value)


def test_the_root_widens_to_the_current_folder_holding_the_description(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = project / "spec" / "api.yaml"
    with pytest.raises(SpecError, match="outside"):
        load_spec(api, widen_refs_root_to_cwd=True)  # the current folder does not hold it
    monkeypatch.chdir(project)
    spec = load_spec(api, widen_refs_root_to_cwd=True)
    assert "thing" in spec.document["components"]["schemas"]
    # Without widening (descriptions from agents) the description's own folder is the root.
    with pytest.raises(SpecError, match=r"outside .*spec \(the folder local \$refs may read\)"):
        load_spec(api)
    # The current folder is the root only when it holds the description.
    monkeypatch.chdir(project / "components")
    with pytest.raises(SpecError, match="outside"):
        load_spec(api, widen_refs_root_to_cwd=True)


def test_refs_root_sets_the_root(project: Path) -> None:
    api = project / "spec" / "api.yaml"
    spec = load_spec(api, refs_root=project)
    assert "thing" in spec.document["components"]["schemas"]
    with pytest.raises(ConfigError, match=r"refs_root .* is not a folder"):
        load_spec(api, refs_root=project / "missing")


def test_text_and_dicts_read_local_files_only_with_a_root(project: Path) -> None:
    text = _spec_with_ref(str(project / "components" / "thing.yaml"))
    with pytest.raises(SpecError, match="given as text or a dict has no folder"):
        load_spec(text)
    assert load_spec(text, refs_root=project).operations


# -- fetches -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Routes of the loopback server the fetch tests use."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    authorizations: list[tuple[str, str | None]] = []  # (path, Authorization) per request

    def do_GET(self) -> None:
        self.authorizations.append((self.path, self.headers.get("Authorization")))
        if self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(2000):
                    self.wfile.write(b"a" * 65536)
            except OSError:
                pass  # the client hung up at its limit
            return
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    """A loopback HTTP server serving `_Handler.routes`."""
    base_routes: dict[str, tuple[int, dict[str, str], bytes]] = {
        "/api.yaml": (200, {}, _spec_with_ref("parts/thing.yaml").encode()),
        "/parts/thing.yaml": (200, {}, _THING.encode()),
        "/metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/private": (302, {"Location": "http://10.0.0.1/api.yaml"}, b""),
        "/mapped": (302, {"Location": "http://[::ffff:169.254.169.254]/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/local-ref.yaml": (200, {}, _spec_with_ref("file:///etc/passwd").encode()),
        "/big.yaml": (200, {}, b"x: '" + b"a" * 5000 + b"'\n"),
    }
    _Handler.routes = base_routes
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a fetch connects to; connecting off loopback fails the test."""
    made: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def recording(self: httpcore.SyncBackend, host: str, port: int, **kwargs: Any) -> Any:
        made.append(host)
        assert ipaddress.ip_address(host).is_loopback, f"a fetch connected to {host}"
        return real(self, host, port, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", recording)
    return made


def test_a_description_url_and_its_remote_refs_load(loopback: str, connections: list[str]) -> None:
    spec = load_spec(f"{loopback}/api.yaml")
    assert "thing" in spec.document["components"]["schemas"]
    assert connections and set(connections) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/metadata", "169.254.169.254 is a cloud metadata endpoint: MockLoop never fetches"),
        ("/private", "10.0.0.1 is a private address: fetch from it only by allowing it"),
        ("/mapped", "is a cloud metadata endpoint"),
    ],
)
def test_redirects_to_metadata_or_private_addresses_are_refused_before_connecting(
    loopback: str, connections: list[str], path: str, expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(f"{loopback}{path}")
    message = str(caught.value)
    assert f"cannot fetch {loopback}{path}: refused (redirected to http://" in message
    assert expected in message
    assert connections == ["127.0.0.1"]  # the first hop only: the refused hop never connects


def test_a_name_resolving_to_the_metadata_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, connections: list[str]
) -> None:
    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "innocent.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr("mockloop.spec.download.socket.getaddrinfo", resolver)
    with pytest.raises(SpecError, match=r"innocent\.example \(169\.254\.169\.254\) is a cloud"):
        load_spec("http://innocent.example/openapi.json", allow_fetch=["169.254.0.0/16"])
    with pytest.raises(SpecError, match=r"metadata\.google\.internal is a cloud metadata endpoint"):
        load_spec("http://metadata.google.internal/computeMetadata/v1/")
    assert connections == []


def test_redirect_loops_and_oversize_answers_are_cut_off(
    loopback: str, connections: list[str]
) -> None:
    with pytest.raises(SpecError, match=r"more than 5 redirects"):
        load_spec(f"{loopback}/loop")
    with pytest.raises(SpecError, match=r"big\.yaml: the answer is larger than 4 KiB"):
        load_spec(f"{loopback}/big.yaml", max_bytes=4096)
    # No Content-Length: the stream is read up to the limit and no further.
    with pytest.raises(SpecError, match=r"endless: the answer is larger than 1 MiB"):
        load_spec(f"{loopback}/endless", max_bytes=1024 * 1024)


def test_caller_headers_reach_the_first_origin_only(loopback: str) -> None:
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)  # another port: another origin
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    elsewhere = f"http://127.0.0.1:{other.server_address[1]}"
    _Handler.routes["/same"] = (302, {"Location": "/parts/thing.yaml"}, b"")
    _Handler.routes["/away"] = (302, {"Location": f"{elsewhere}/back"}, b"")
    _Handler.routes["/back"] = (302, {"Location": f"{loopback}/parts/thing.yaml"}, b"")
    _Handler.authorizations.clear()
    try:
        for path in ("/same", "/away"):
            body = fetch_module.fetch_document(
                f"{loopback}{path}",
                policy=FetchPolicy(),
                max_bytes=1 << 20,
                timeout=10,
                headers={"Authorization": "Bearer s3cret"},
            )
            assert body == _THING.encode()
    finally:
        other.shutdown()
        other.server_close()
    assert _Handler.authorizations == [
        ("/same", "Bearer s3cret"),
        ("/parts/thing.yaml", "Bearer s3cret"),  # same origin: kept
        ("/away", "Bearer s3cret"),
        ("/back", None),  # another port: dropped
        ("/parts/thing.yaml", None),  # and not sent again once the fetch has left its origin
    ]


def test_a_remote_description_cannot_refer_to_a_local_file(loopback: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(f"{loopback}/local-ref.yaml", refs_root="/")
    assert "$ref 'file:///etc/passwd' names a local file from a description fetched over" in str(
        caught.value
    )
    assert "remote description may refer only to http(s) URLs" in str(caught.value)


def test_fetch_policy() -> None:
    def refusal(policy: FetchPolicy, host: str, address: str | None = None) -> str | None:
        return policy.refusal(host, ipaddress.ip_address(address or host.strip("[]")))

    default = FetchPolicy()
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "93.184.216.34"):
        assert refusal(default, address) is None, address
    for address in ("10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd12::1"):
        assert "private address" in (refusal(default, address) or ""), address
    assert "unspecified" in (refusal(default, "0.0.0.0") or "")
    assert "multicast" in (refusal(default, "224.0.0.1") or "")
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "64:ff9b::a9fe:a9fe"):
        assert "cloud metadata" in (refusal(default, address) or ""), address
    assert "link-local" in (refusal(default, "169.254.1.1") or "")
    assert "link-local" in (refusal(default, "fe80::1") or "")

    allowing = FetchPolicy(["10.0.0.0/8", "intranet.example", "fd00::/8", "169.254.0.0/16"])
    assert refusal(allowing, "10.9.8.7") is None
    assert refusal(allowing, "intranet.example", "192.168.5.5") is None
    assert refusal(allowing, "fd12::1") is None
    assert "private address" in (refusal(allowing, "192.168.5.5") or "")
    # Link-local and metadata stay refused whatever is allowed.
    assert "cloud metadata" in (refusal(allowing, "169.254.169.254") or "")
    assert "cloud metadata" in (refusal(allowing, "fd00:ec2::254") or "")
    assert "link-local" in (refusal(allowing, "169.254.7.7") or "")
    for bad in ("", "10.0.0.0/33", "http://x", "a b"):
        with pytest.raises(ConfigError, match="allow_fetch"):
            FetchPolicy([bad])


def test_allow_fetch_lets_a_private_address_through_to_the_checked_ip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resolving to a private address is refused by default and connected to (at the
    address checked) when allowed; the connection is faked, so nothing leaves the host."""

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    attempts: list[tuple[str, int]] = []

    def no_traffic(self: httpcore.SyncBackend, host: str, port: int, **kwargs: Any) -> Any:
        attempts.append((host, port))
        raise httpcore.ConnectError("faked: no traffic leaves the test")

    monkeypatch.setattr("mockloop.spec.download.socket.getaddrinfo", resolver)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", no_traffic)
    with pytest.raises(SpecError, match=r"intranet\.example \(10\.0\.0\.7\) is a private address"):
        load_spec("http://intranet.example/api.yaml")
    assert attempts == []
    for allowed in (["intranet.example"], ["10.0.0.0/8"]):
        with pytest.raises(SpecError, match="ConnectError: faked"):
            load_spec("http://intranet.example:8080/api.yaml", allow_fetch=allowed)
    assert attempts == [("10.0.0.7", 8080), ("10.0.0.7", 8080)]


# -- the command line ----------------------------------------------------------------------


def test_serve_refuses_hostile_descriptions_with_one_line_and_exit_2(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "bomb.yaml").write_text(_alias_bomb())
    (tmp_path / "deep.json").write_text(_deep_json(3000))
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "passwd.yaml").write_text(_spec_with_ref("/etc/passwd"))
    (tmp_path / "big.yaml").write_text("x: '" + "a" * 5000 + "'\n")
    cases = [
        (["/dev/zero"], "is a character device"),
        ([str(tmp_path / "fifo.yaml")], "is a FIFO"),
        ([str(tmp_path / "bomb.yaml")], "alias bomb"),
        ([str(tmp_path / "deep.json")], "nested deeper than 128 levels"),
        ([str(tmp_path / "inner" / "passwd.yaml")], "outside"),
        ([str(tmp_path / "big.yaml"), "--max-spec-size", "4K"], "larger than 4 KiB"),
        (["http://169.254.169.254/latest/"], "cloud metadata endpoint"),
    ]
    for args, expected in cases:
        done = subprocess.run(
            [sys.executable, "-m", "mockloop", "serve", *args, "--port", "0", "--no-storage"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        lines = done.stderr.splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("mockloop: error: "), done.stderr
        assert expected in lines[0]


# -- agent faces and generated projects ----------------------------------------------------


def test_agent_operations_keep_refs_in_the_description_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockloop import MockLoopClient

    monkeypatch.chdir(project)  # `mockloop serve` would widen to here; an agent's call does not
    api = str(project / "spec" / "api.yaml")
    with MockLoopClient(home=str(project / "home")) as client:
        with pytest.raises(SpecError, match=r"outside .*spec \(the folder local \$refs may"):
            client.generate_mock_api(api, output_dir_name="agent", start=False)
        generated = client.generate_mock_api(
            api, output_dir_name="rooted", start=False, refs_root=str(project)
        )
    assert "openapi.json" in generated.files  # bundled: the project needs nothing outside


def test_client_settings_and_server_command_carry_the_fetch_options(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockloop.servers.lifecycle import _command
    from mockloop.settings import ClientSettings

    monkeypatch.setenv("MOCKLOOP_ALLOW_FETCH", "10.0.0.0/8, intranet.example")
    assert ClientSettings.from_env().allow_fetch == ("10.0.0.0/8", "intranet.example")
    assert ClientSettings.from_env(allow_fetch=[]).allow_fetch == ()
    api = str(project / "spec" / "api.yaml")
    argv, *_ = _command(api, None, 9000, 9001, "127.0.0.1", [], allow_fetch=["10.0.0.0/8"])
    assert argv[argv.index("--allow-fetch") + 1] == "10.0.0.0/8"
    assert argv[argv.index("--refs-root") + 1] == str((project / "spec").resolve())
    argv, *_ = _command(api, None, 9000, 9001, "127.0.0.1", [], refs_root=project)
    assert argv[argv.index("--refs-root") + 1] == str(project.resolve())
    with pytest.raises(ConfigError, match="allow_fetch"):
        _command(api, None, 9000, 9001, "127.0.0.1", [], allow_fetch=["10.0.0.0/33"])
    with pytest.raises(SpecError, match="is not a regular file"):
        _command("/dev/zero", None, 9000, 9001, "127.0.0.1", [])


def test_mcp_allow_fetch_flag_sets_the_client_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockloop_mcp.__main__ import _allow_fetch, build_parser

    monkeypatch.setenv("MOCKLOOP_ALLOW_FETCH", "intranet.example")
    args = build_parser().parse_args(["--allow-fetch", "10.0.0.0/8", "--allow-fetch", "::1"])
    _allow_fetch(args.allow_fetch)
    assert os.environ["MOCKLOOP_ALLOW_FETCH"] == "intranet.example,10.0.0.0/8,::1"
    with pytest.raises(ConfigError, match="allow_fetch"):
        _allow_fetch(["not a host"])


def test_generated_images_hold_only_what_the_mock_needs(tmp_path: Path) -> None:
    import yaml

    from mockloop.generate import generate_project
    from tests.conftest import PETSTORE

    plain = generate_project(PETSTORE, output_dir_name=str(tmp_path / "plain"))
    ignore = (plain.path / ".dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules == ["*", "!main.py", "!mockloop.yaml", "!requirements.txt", "!openapi.yaml"]

    secret = generate_project(
        PETSTORE,
        output_dir_name=str(tmp_path / "secret"),
        proxy={
            "mode": "proxy",
            "target_url": "https://api.example.com",
            "auth": {"auth_type": "bearer_token", "credentials": {"token": "s3cr3t"}},
        },
        allow_fetch=["10.0.0.0/8"],
    )
    rules = [
        line
        for line in (secret.path / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert "!mockloop.yaml" not in rules and rules[0] == "*"  # the credentials stay out
    compose = yaml.safe_load((secret.path / "docker-compose.yml").read_text())
    assert "./mockloop.yaml:/app/mockloop.yaml:ro" in compose["services"]["mock"]["volumes"]
    assert "mock-data:/app/data" in compose["services"]["mock"]["volumes"]
    assert any("kept out of the Docker image" in w for w in secret.warnings)
    config = yaml.safe_load((secret.path / "mockloop.yaml").read_text())
    assert config["allow_fetch"] == ["10.0.0.0/8"]
    assert (secret.path / "mockloop.yaml").stat().st_mode & 0o077 == 0


def test_the_loader_and_the_ref_resolver_share_one_scheme_pattern() -> None:
    from mockloop.spec import loader as loader_module
    from mockloop.spec import refs as refs_module

    assert vars(loader_module)["URI_SCHEME"] is refs_module.URI_SCHEME  # imported, not redefined
    assert not hasattr(loader_module, "_SCHEME") and not hasattr(refs_module, "_SCHEME")
    assert refs_module.URI_SCHEME.match("file:///x") and not refs_module.URI_SCHEME.match("C:\\x")
