"""Read the description a prompt or a pack works on: a path, a URL, a dict, text, or a mock.

`api_spec` may be the URL of a running mock (`http://localhost:8000`): a URL without a path is
tried as `URL/openapi.json` first (a MockLoop mock serves its description there, as FastAPI
apps do), then as the description itself. A MockLoop admin URL is followed to its mock's
business URL (the admin app's own /openapi.json describes the admin API, not the mock's).

Descriptions reach this module from agents, so every read is bounded like `load_spec`'s and
every URL (the /health probe too) goes through the same fetch policy; local `$ref`s stay in
the description's own folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from mockloop.errors import ConfigError, SpecError
from mockloop.settings import PROBE, env_allow_fetch
from mockloop.spec import ApiSpec, load_spec
from mockloop.spec.fetch import FetchPolicy, fetch_document
from mockloop.spec.limits import DEFAULT_MAX_SPEC_BYTES
from mockloop.spec.refs import parse_text, read_file

__all__ = ["load_description", "raw_document"]

_HEALTH_BYTES = 1024 * 1024


def load_description(api_spec: Any, *, allow_fetch: list[str] | None = None) -> ApiSpec:
    """The loaded description; SpecError or ConfigError saying what is wrong otherwise.

    `allow_fetch` names the private hosts or CIDRs its URLs may reach (default:
    `MOCKLOOP_ALLOW_FETCH`).
    """
    if isinstance(api_spec, ApiSpec):
        return api_spec
    if api_spec is None or (isinstance(api_spec, str) and not api_spec.strip()):
        raise ConfigError(
            "api_spec is required: a path, an http(s) URL (a running mock's URL works), a dict "
            "or YAML/JSON text of an OpenAPI description"
        )
    if not isinstance(api_spec, str | dict):
        raise ConfigError(
            "api_spec must be a path, a URL, a dict or YAML/JSON text, not "
            + type(api_spec).__name__
        )
    allowed = allow_fetch if allow_fetch is not None else env_allow_fetch()
    if isinstance(api_spec, str) and api_spec.strip().startswith(("http://", "https://")):
        url = api_spec.strip().rstrip("/")
        if urlsplit(url).path in ("", "/"):
            try:
                return load_spec(_business_url(url, allowed) + "/openapi.json", allow_fetch=allowed)
            except SpecError:
                pass
    return load_spec(api_spec, allow_fetch=allowed)


def _business_url(url: str, allow_fetch: list[str]) -> str:
    """A MockLoop mock's admin URL stands for its business URL (whose description we want)."""
    try:
        body = fetch_document(
            f"{url}/health",
            policy=FetchPolicy(allow_fetch),
            max_bytes=_HEALTH_BYTES,
            timeout=5.0,
            headers=PROBE,
        )
        health = orjson.loads(body)
    except (SpecError, orjson.JSONDecodeError):
        return url
    if isinstance(health, dict) and health.get("service") == "mockloop-admin":
        business = health.get("business_url")
        if isinstance(business, str) and business:
            return business.rstrip("/")
    return url


def raw_document(api_spec: Any) -> dict[str, Any] | None:
    """The description as written (before normalisation), for what the model does not keep,
    such as response `links`; None for URLs and anything unreadable or beyond the limits."""
    if isinstance(api_spec, dict):
        return api_spec
    if not isinstance(api_spec, str) or api_spec.strip().startswith(("http://", "https://")):
        return None
    try:
        text = api_spec
        source = "<string>"
        if "\n" not in api_spec and not api_spec.lstrip().startswith(("{", "openapi:", "swagger:")):
            source = str(Path(api_spec).expanduser().resolve())
            text = read_file(source, DEFAULT_MAX_SPEC_BYTES).decode("utf-8-sig")
        document = parse_text(text, source)
    except (SpecError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None
