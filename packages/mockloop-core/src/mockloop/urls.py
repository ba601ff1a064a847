"""URLs a caller names a server by: normalised, and refused with a clear error when unusable."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from mockloop.errors import ConfigError

__all__ = ["normalise_url"]


def normalise_url(url: str, what: str = "server_url") -> str:
    """`url` with a scheme and without a trailing slash; ConfigError when it is no URL."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{what} is empty: give the mock's URL, e.g. http://127.0.0.1:8000")
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}={url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{what}={url!r} has an invalid port") from None
    # A server URL names a server: its query and fragment (which may hold a key) are dropped.
    netloc = parts.netloc.rsplit("@", 1)[-1]
    normalised = f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")
    try:
        httpx.URL(normalised)  # what httpx refuses later (too long, control characters)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{what}={url[:200]!r} is not a usable URL ({exc})") from None
    return normalised
