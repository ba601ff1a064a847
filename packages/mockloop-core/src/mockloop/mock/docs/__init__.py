"""Swagger UI for both ports, served from files installed with MockLoop (`swagger-ui-py`).

`swagger` loads Swagger UI's files and writes its page; `business_docs` answers the business
port's `/docs` (or `/_mockloop/docs` when the description defines `/docs` itself). The admin
port mounts the same page and files through `mockloop.mock.admin.docs`. Nothing here is on
the business port's hot path: it answers only requests no operation of the description took.
"""

from __future__ import annotations

from mockloop.mock.docs.business_docs import DOCS_ASIDE, DOCS_PREFIXES, BusinessDocs
from mockloop.mock.docs.swagger import (
    ASSET_CACHE_CONTROL,
    PAGE_HEADERS,
    SwaggerAssets,
    swagger_assets,
    swagger_page,
)

__all__ = [
    "ASSET_CACHE_CONTROL",
    "DOCS_ASIDE",
    "DOCS_PREFIXES",
    "PAGE_HEADERS",
    "BusinessDocs",
    "SwaggerAssets",
    "swagger_assets",
    "swagger_page",
]
