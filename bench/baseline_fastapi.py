"""The baseline of `bench_mock.py`: a bare FastAPI app with one GET route returning fixed JSON.

It is what a developer would write by hand: a route function returning a dict, served by
uvicorn with one worker and uvicorn's default event loop and HTTP implementation (the same
defaults the mock uses), access log off. The body is read once at start-up from `--body-file`
(the benchmark passes the mock's own answer, so both send the same bytes), else a pet-shaped
object of about the same size.

Run: python bench/baseline_fastapi.py --port 8100 [--body-file BODY.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

ROUTE = "/{collection}/{item_id}"  # any `/things/{id}` path the mock is measured on

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
    """A FastAPI app whose only route answers `body` for any `/collection/id`."""
    app = FastAPI(title="bench baseline", docs_url=None, redoc_url=None)

    @app.get(ROUTE)
    async def get_item(collection: str, item_id: str) -> Any:
        return body

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--body-file", type=Path, help="JSON file with the body to answer")
    args = parser.parse_args(argv)
    body = json.loads(args.body_file.read_text()) if args.body_file else DEFAULT_BODY
    # The same uvicorn settings as the mock: default loop/http, one worker, no access log,
    # no Server header.
    uvicorn.run(
        create_app(body),
        host=args.host,
        port=args.port,
        workers=1,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
