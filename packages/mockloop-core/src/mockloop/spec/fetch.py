"""Fetching a description or a remote `$ref` over HTTP without being turned against the host.

A description URL comes from whoever hands MockLoop a description, so every fetch (the
description, each remote `$ref`, every redirect hop) goes through one `FetchPolicy`:

- loopback is always allowed (a running mock's `/openapi.json` is a main use);
- link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata endpoints
  (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal, ...) never;
- private, shared, unspecified, multicast and reserved addresses only when `allow` names the
  host or a network holding the address (`--allow-fetch HOST|CIDR`);
- public addresses are allowed.

The check runs on the address the connection is made to: the host name is resolved once, each
address is checked, and the socket connects to the checked address (a name that resolves to
169.254.169.254 is refused before any packet leaves). TLS still verifies and sends the host
name. Redirects are followed by hand (at most 5), each hop checked the same way; the body is
streamed and cut at the size limit; one deadline covers the whole fetch; no proxy from the
environment is used.

The policy lives here; the transport (httpcore, httpx) is in `spec.download`, imported on the
first fetch, so loading a local description never pays for the HTTP stack.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from mockloop.errors import ConfigError

__all__ = ["FetchPolicy", "fetch_document"]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS time sync / DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


class FetchPolicy:
    """Which addresses a fetch may connect to; `allow` holds host names, addresses or CIDRs.

    Raises:
        ConfigError: an `allow` entry is neither a host name nor an address or network.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        names: set[str] = set()
        networks: list[Network] = []
        for entry in allow:
            text = str(entry).strip().lower().rstrip(".")
            if not text:
                raise ConfigError("allow_fetch: an entry is empty; give a host name or a CIDR")
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                if not _HOST_NAME.fullmatch(text):
                    raise ConfigError(
                        f"allow_fetch: {entry!r} is neither a host name nor an address or CIDR "
                        "(e.g. intranet.example, 10.0.0.5 or 10.0.0.0/8)"
                    ) from None
            names.add(text)
        self.names = frozenset(names)
        self.networks = tuple(networks)

    def name_refusal(self, host: str) -> str | None:
        """Why `host` is refused by name alone (a cloud metadata name); None otherwise."""
        if host.strip("[]").lower().rstrip(".") in _METADATA_NAMES:
            return f"{host} is a cloud metadata endpoint: MockLoop never fetches from it"
        return None

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why connecting to `address` (which `host` resolved to) is refused; None if allowed."""
        name = host.strip("[]").lower().rstrip(".")
        seen = address if host.strip("[]") == str(address) else f"{host} ({address})"
        plain = _embedded_ipv4(address)
        by_name = self.name_refusal(host)
        if by_name is not None:
            return by_name
        if address in _METADATA_ADDRESSES or plain in _METADATA_ADDRESSES:
            return f"{seen} is a cloud metadata endpoint: MockLoop never fetches from it"
        if any(plain in network for network in _LINK_LOCAL if plain.version == network.version):
            return f"{seen} is a link-local address: MockLoop never fetches from one"
        if plain.is_loopback:
            return None
        if plain.is_global and not plain.is_multicast:
            return None
        if name in self.names or any(
            address in network or plain in network
            for network in self.networks
            if network.version in (address.version, plain.version)
        ):
            return None
        kind = (
            "a multicast"
            if plain.is_multicast
            else "an unspecified"
            if plain.is_unspecified
            else "a reserved"
            if plain.is_reserved
            else "a private"
        )
        return (
            f"{seen} is {kind} address: fetch from it only by allowing it "
            f"(--allow-fetch {name if name != str(address) else address}, a CIDR holding it, "
            "or allow_fetch)"
        )


def fetch_document(
    url: str,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    timeout: float,
    referrer: str = "",
    pointer: str = "",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The body of `url`, fetched within the policy, `max_bytes` and `timeout` seconds in all
    (see `spec.download.download`).

    Raises:
        SpecError: the address is refused, the fetch fails or times out, the answer is an HTTP
            error, a redirect goes nowhere or too far, or the body is larger than `max_bytes`.
    """
    from mockloop.spec.download import download

    return download(
        url,
        policy=policy,
        max_bytes=max_bytes,
        timeout=timeout,
        referrer=referrer,
        pointer=pointer,
        headers=headers,
    )
