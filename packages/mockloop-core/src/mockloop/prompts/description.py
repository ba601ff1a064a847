"""Read the description a prompt or a pack works on: a path, a URL, a dict, text, or a mock.

`api_spec` may be the URL of a running mock (`http://localhost:8000`): a URL without a path is
tried as `URL/openapi.json` first (a MockLoop mock serves its description there, as FastAPI
apps do), then as the description itself. A MockLoop admin URL is followed to its mock's
business URL (the admin app's own /openapi.json describes the admin API, not the mock's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from mockloop.errors import ConfigError, SpecError
from mockloop.settings import PROBE
from mockloop.spec import ApiSpec, load_spec

__all__ = ["load_description", "raw_document"]


def load_description(api_spec: Any) -> ApiSpec:
    """The loaded description; SpecError or ConfigError saying what is wrong otherwise."""
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
    if isinstance(api_spec, str) and api_spec.strip().startswith(("http://", "https://")):
        url = api_spec.strip().rstrip("/")
        if urlsplit(url).path in ("", "/"):
            try:
                return load_spec(_business_url(url) + "/openapi.json")
            except SpecError:
                pass
    return load_spec(api_spec)


def _business_url(url: str) -> str:
    """A MockLoop mock's admin URL stands for its business URL (whose description we want)."""
    try:
        response = httpx.get(f"{url}/health", headers=PROBE, timeout=5.0, trust_env=False)
        health = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return url
    if isinstance(health, dict) and health.get("service") == "mockloop-admin":
        business = health.get("business_url")
        if isinstance(business, str) and business:
            return business.rstrip("/")
    return url


def raw_document(api_spec: Any) -> dict[str, Any] | None:
    """The description as written (before normalisation), for what the model does not keep,
    such as response `links`; None for URLs and anything unreadable."""
    if isinstance(api_spec, dict):
        return api_spec
    if not isinstance(api_spec, str) or api_spec.strip().startswith(("http://", "https://")):
        return None
    text = api_spec
    if "\n" not in api_spec and not api_spec.lstrip().startswith(("{", "openapi:", "swagger:")):
        path = Path(api_spec).expanduser()
        if not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None
