"""The transport of `spec.fetch`: the guarded connection, redirects by hand, bounded bodies.

Imported on the first fetch only (httpcore and httpx are a large part of a cold start).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol
from urllib.parse import urljoin

import httpcore
import httpx

from mockloop.errors import SpecError
from mockloop.spec.limits import size_text

__all__ = ["MAX_REDIRECTS", "download"]

MAX_REDIRECTS = 5

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchPolicy(Protocol):
    """What the transport asks of `spec.fetch.FetchPolicy` (not imported: no cycle)."""

    def name_refusal(self, host: str) -> str | None: ...

    def refusal(self, host: str, address: IPAddress) -> str | None: ...


class _Refused(Exception):
    """Raised inside the connection pool when the policy refuses an address."""


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """The addresses `host` resolves to, within `timeout` seconds."""
    literal = host.strip("[]")
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    found: list[Any] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failure.append(exc)

    # getaddrinfo has no timeout of its own: a daemon thread bounds the wait.
    thread = threading.Thread(target=lookup, name="mockloop-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g} s")
    if failure:
        raise httpcore.ConnectError(f"cannot resolve {host}: {failure[0]}")
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpcore.ConnectError(f"{host} resolves to no address")
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every address with the policy, connects to a checked one."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        by_name = self._policy.name_refusal(host)
        if by_name is not None:
            raise _Refused(by_name)
        addresses = _resolve(host, port, timeout if timeout is not None else 10.0)
        # One refused address refuses the name: a name an attacker controls may answer with a
        # public and a metadata address and let the connection pick.
        for address in addresses:
            reason = self._policy.refusal(host, address)
            if reason is not None:
                raise _Refused(reason)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise _Refused("a description is never fetched over a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _decoder(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise ValueError(encoding)


def _bounded(chunks: Iterator[bytes], decoder: Any, room: int) -> Iterator[bytes]:
    """`chunks` decoded, never producing more than `room` + 1 bytes in all."""
    for chunk in chunks:
        if decoder is None:
            yield chunk
            continue
        data = chunk
        while data and room >= 0:
            out = decoder.decompress(data, room + 1)
            room -= len(out)
            yield out
            data = decoder.unconsumed_tail


_DEFAULT_PORTS = {"http": 80, "https": 443}


def download(
    url: str,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    timeout: float,
    referrer: str = "",
    pointer: str = "",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The body of `url`, fetched within the policy, `max_bytes` and `timeout` seconds in all.

    `headers` are sent besides Host, Accept, Accept-Encoding and User-Agent, to `url`'s origin
    only: once a redirect changes the scheme, host or port they are dropped for that hop and
    every later one, so a credential meant for one server never reaches another.

    Raises:
        SpecError: the address is refused, the fetch fails or times out, the answer is an HTTP
            error, a redirect goes nowhere or too far, or the body is larger than `max_bytes`.
    """
    source = referrer or url
    deadline = time.monotonic() + timeout
    extra = headers or {}
    origin: tuple[bytes, bytes, int] | None = None

    def fail(problem: str) -> SpecError:
        return SpecError(f"cannot fetch {url}: {problem}", source=source, pointer=pointer)

    current = url
    with httpcore.ConnectionPool(network_backend=_GuardedBackend(policy), retries=0) as pool:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                target = httpx.URL(current)
            except (httpx.InvalidURL, ValueError) as exc:
                raise fail(f"{current!r} is not a usable URL ({exc})") from None
            if target.scheme not in ("http", "https") or not target.host:
                raise fail(f"{current} is not an http(s) URL")
            here = (
                target.raw_scheme,
                target.raw_host,
                target.port or _DEFAULT_PORTS[target.scheme],
            )
            if origin is None:
                origin = here
            elif here != origin:
                extra = {}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise fail(f"no answer within {timeout:g} s")
            request_url = httpcore.URL(
                scheme=target.raw_scheme,
                host=target.raw_host,
                port=target.port,
                target=target.raw_path,
            )
            sent = [
                (b"Host", target.netloc),
                (b"Accept", b"application/json, application/yaml, text/yaml, text/plain, */*"),
                (b"Accept-Encoding", b"gzip, deflate, identity"),
                (b"User-Agent", b"mockloop"),
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
            ]
            limits = {"connect": remaining, "read": remaining, "write": remaining}
            try:
                with pool.stream(
                    "GET",
                    request_url,
                    headers=sent,
                    extensions={"timeout": {**limits, "pool": remaining}},
                ) as response:
                    status = response.status
                    found = {k.lower(): v for k, v in response.headers}
                    if status in _REDIRECTS:
                        location = found.get(b"location", b"").decode("latin-1").strip()
                        if not location:
                            raise fail(f"HTTP {status} redirect without a Location")
                        current = urljoin(current, location)
                        continue
                    if status >= 400:
                        reason = response.extensions.get("reason_phrase", b"").decode("latin-1")
                        raise fail(f"HTTP {status} {reason}".rstrip())
                    return _body(response, found, max_bytes, deadline, timeout, fail)
            except _Refused as exc:
                hop = "" if current == url else f" (redirected to {current})"
                raise fail(f"refused{hop}: {exc}") from None
            except httpcore.TimeoutException:
                raise fail(f"no answer within {timeout:g} s") from None
            except (httpcore.ProtocolError, httpcore.NetworkError) as exc:
                raise fail(f"{type(exc).__name__}: {exc}") from None
    raise fail(f"more than {MAX_REDIRECTS} redirects (last to {current})")


def _body(
    response: httpcore.Response,
    headers: dict[bytes, bytes],
    max_bytes: int,
    deadline: float,
    timeout: float,
    fail: Any,
) -> bytes:
    """The response body, decoded, cut off (and refused) beyond `max_bytes`."""
    too_large = f"the answer is larger than {size_text(max_bytes)} (raise --max-spec-size)"
    length = headers.get(b"content-length", b"").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise fail(too_large)
    encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
    try:
        decoder = _decoder(encoding)
    except ValueError:
        raise fail(f"unsupported Content-Encoding {encoding!r}") from None
    stream = response.iter_stream()
    body = bytearray()
    try:
        for chunk in _bounded(stream, decoder, max_bytes):
            body += chunk
            if len(body) > max_bytes:
                raise fail(too_large)
            if time.monotonic() > deadline:
                raise fail(f"no complete answer within {timeout:g} s")
    except zlib.error as exc:
        raise fail(f"the {encoding} body is corrupt ({exc})") from None
    return bytes(body)
