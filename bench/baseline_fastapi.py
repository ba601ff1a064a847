"""The references of `bench_mock.py`: bare FastAPI apps answering fixed JSON on one GET route.

Two styles, both one uvicorn worker with the access log and the `Server` header off (as the
mock):

* `stock`: what a developer writes by hand, a route function returning a dict (FastAPI encodes
  it on every request), served with uvicorn's default event loop and HTTP implementation
  (uvloop and httptools when they are installed, as in this project's environment);
* `fastest`: the fastest FastAPI route there is for the same bytes, an `async` route returning
  a `Response` built from bytes read once at start-up, served with uvloop and httptools.

The body is read once at start-up from `--body-file` (the benchmark passes the mock's own
answer, so every server sends the same bytes), else a pet-shaped object of about the same size.

Run: python bench/baseline_fastapi.py --port 8100 [--style fastest] [--body-file BODY.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Response

ROUTE = "/{collection}/{item_id}"  # any `/things/{id}` path the mock is measured on
STYLES = ("stock", "fastest")

DEFAULT_BODY: dict[str, Any] = {
    "id": 7,
    "name": "Biscuit",
    "species": "dog",
    "status": "available",
    "tags": ["friendly", "vaccinated"],
    "birth_date": "2021-04-12",
    "owner": {"id": 41, "name": "Jane Doe", "email": "jane.doe@example.com"},
    "created_at": "2024-01-31T12:00:00Z",
}


def create_app(body: Any) -> FastAPI:
    """The stock app: its only route returns `body` as a dict for any `/collection/id`."""
    app = FastAPI(title="bench baseline", docs_url=None, redoc_url=None)

    @app.get(ROUTE)
    async def get_item(collection: str, item_id: str) -> Any:
        return body

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_fastest_app(payload: bytes) -> FastAPI:
    """The fastest app: its only route answers the pre-encoded `payload` for any
    `/collection/id` (no parameter parsing, no encoding, no OpenAPI routes)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    health = b'{"status":"ok"}'

    async def get_item() -> Response:
        return Response(content=payload, media_type="application/json")

    async def get_health() -> Response:
        return Response(content=health, media_type="application/json")

    app.add_api_route(ROUTE, get_item, methods=["GET"])
    app.add_api_route("/health", get_health, methods=["GET"])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--body-file", type=Path, help="JSON file with the body to answer")
    parser.add_argument("--style", choices=STYLES, default="stock")
    args = parser.parse_args(argv)
    payload = args.body_file.read_bytes() if args.body_file else json.dumps(DEFAULT_BODY).encode()
    if args.style == "fastest":
        app = create_fastest_app(payload)
        loop, http = "uvloop", "httptools"
    else:
        app = create_app(json.loads(payload))
        loop, http = "auto", "auto"  # uvicorn's defaults
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop=loop,
        http=http,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
