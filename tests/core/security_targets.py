"""Two small APIs for the security tester's tests, on 127.0.0.1 with free ports.

`vulnerable_app()` has exactly one planted flaw per category the tester probes:

- object level authorization: any user reads any user (GET /users/{id});
- authentication: tokens are decoded without checking signature, algorithm or expiry;
- property level authorization: GET /users/{id} returns the stored row, `password_hash`
  included;
- resource consumption: no rate limit, `limit` is not capped, bodies have no size limit;
- function level authorization: GET /admin answers anyone;
- SSRF: POST /avatars/import fetches whatever `url` says;
- misconfiguration: CORS reflects any origin with credentials, errors carry the Python stack
  trace, TRACE echoes the request;
- inventory: the retired GET /v1/users still answers, without authentication;
- injection: GET /users/search builds its SQLite query by string concatenation.

`hardened_app()` serves the same description with every flaw fixed. Both serve the
description at /openapi.json.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.waiting import wait_for

__all__ = ["SECRET", "SPEC", "hardened_app", "serve", "token_for", "vulnerable_app"]

SECRET = "security-targets-secret-key-0123456789"
_ROWS = 1500

_USER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "email"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
    },
}
_USERS = {"type": "array", "items": {"$ref": "#/components/schemas/User"}}
_JSON_USER = {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}
_JSON_USERS = {"application/json": {"schema": _USERS}}

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Accounts API", "version": "2.0.0"},
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": {
            "User": _USER,
            "NewUser": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "email"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "email": {"type": "string", "maxLength": 100},
                },
            },
        },
    },
    "paths": {
        "/users": {
            "get": {
                "operationId": "listUsers",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    }
                ],
                "responses": {"200": {"description": "users", "content": _JSON_USERS}},
            },
            "post": {
                "operationId": "createUser",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewUser"}}
                    },
                },
                "responses": {"201": {"description": "created", "content": _JSON_USER}},
            },
        },
        "/users/search": {
            "get": {
                "operationId": "searchUsers",
                "parameters": [
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "matches", "content": _JSON_USERS}},
            }
        },
        "/users/{id}": {
            "get": {
                "operationId": "getUser",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {"description": "a user", "content": _JSON_USER},
                    "404": {"description": "not found"},
                },
            }
        },
        "/avatars/import": {
            "post": {
                "operationId": "importAvatar",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["url"],
                                "properties": {"url": {"type": "string", "format": "uri"}},
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "imported"}},
            }
        },
    },
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(signing_input: str) -> str:
    return _b64(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())


def token_for(user_id: int, role: str = "user", *, ttl: float = 3600) -> str:
    """A valid HS256 JWT for a user of both apps."""
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": int(now + ttl)}
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_sign(f'{head}.{body}')}"


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, signature


def _trusting_decode(token: str) -> dict[str, Any] | None:
    """Planted: the claims of any well-formed token, whatever its signature, alg or expiry."""
    parts = _parts(token)
    return parts[1] if parts else None


def _verified_decode(token: str) -> dict[str, Any] | None:
    """HS256 only, signature checked, unexpired, with a subject."""
    parts = _parts(token)
    if parts is None:
        return None
    header, claims, signature = parts
    head, body, _ = token.split(".")
    if header.get("alg") != "HS256" or not hmac.compare_digest(signature, _sign(f"{head}.{body}")):
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time() or "sub" not in claims:
        return None
    return claims


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, "
        "password_hash TEXT, is_admin INTEGER)"
    )
    rows = [(1, "alice", 0), (2, "bob", 0), (3, "carol", 1)]
    rows += [(i, f"user{i}", 0) for i in range(4, _ROWS + 1)]
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        [(i, n, f"{n}@example.test", f"$2b$12$hash{i:06d}", a) for i, n, a in rows],
    )
    db.commit()
    return db


def _public(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "email": row[2]}


# -- the vulnerable API --------------------------------------------------------------------------


def vulnerable_app() -> Starlette:
    """The API with one planted flaw per category."""
    db = _database()

    def claims(request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return _trusting_decode(header[7:])

    def denied() -> Response:
        return JSONResponse({"detail": "unauthorized"}, status_code=401)

    async def list_users(request: Request) -> Response:
        if claims(request) is None:
            return denied()
        limit = int(request.query_params.get("limit", "10"))  # planted: no cap
        rows = db.execute("SELECT * FROM users ORDER BY id LIMIT ?", (limit,)).fetchall()
        return JSONResponse([_public(r) for r in rows])

    async def create_user(request: Request) -> Response:
        if claims(request) is None:
            return denied()
        data = await request.json()  # planted: no size limit
        cur = db.execute(
            "INSERT INTO users (name, email, password_hash, is_admin) VALUES (?, ?, '', 0)",
            (str(data.get("name", "")), str(data.get("email", ""))),
        )
        row = db.execute("SELECT * FROM users WHERE id = ?", (cur.lastrowid,)).fetchone()
        return JSONResponse(_public(row), status_code=201)

    async def search(request: Request) -> Response:
        if claims(request) is None:
            return denied()
        name = request.query_params.get("name", "")
        # Planted: SQL built by concatenation.
        rows = db.execute("SELECT * FROM users WHERE name = '" + name + "'").fetchall()
        return JSONResponse([_public(r) for r in rows])

    async def get_user(request: Request) -> Response:
        if claims(request) is None:
            return denied()
        user_id = int(request.path_params["id"])  # a bad id raises: a stack trace below
        row = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        # Planted: anyone's row (BOLA), serialised whole (password_hash).
        return JSONResponse({**_public(row), "password_hash": row[3], "is_admin": bool(row[4])})

    async def import_avatar(request: Request) -> Response:
        if claims(request) is None:
            return denied()
        data = await request.json()
        async with httpx.AsyncClient(timeout=3, trust_env=False) as client:  # planted: SSRF
            fetched = await client.get(str(data.get("url")))
        return JSONResponse({"status": fetched.status_code, "bytes": len(fetched.content)})

    async def admin(request: Request) -> Response:  # planted: no role check, not documented
        count = db.execute("SELECT count(*) FROM users").fetchone()[0]
        return JSONResponse({"users": count, "maintenance": False})

    async def legacy_users(request: Request) -> Response:  # planted: retired, unauthenticated
        rows = db.execute("SELECT * FROM users ORDER BY id LIMIT 20").fetchall()
        return JSONResponse([_public(r) for r in rows])

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    class Misconfigured(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            if request.method == "TRACE":  # planted: TRACE echoes the request
                lines = [f"TRACE {request.url.path} HTTP/1.1"]
                lines += [f"{k}: {v}" for k, v in request.headers.items()]
                return PlainTextResponse("\r\n".join(lines), media_type="message/http")
            origin = request.headers.get("origin")
            if request.method == "OPTIONS" and origin:
                response: Response = Response(status_code=204)
            else:
                try:
                    response = await call_next(request)
                except Exception:  # planted: the stack trace goes to the client
                    response = PlainTextResponse(traceback.format_exc(), status_code=500)
            if origin:  # planted: any origin, with credentials
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Credentials"] = "true"
            return response

    app = Starlette(
        routes=[
            Route("/openapi.json", openapi),
            Route("/users", list_users, methods=["GET"]),
            Route("/users", create_user, methods=["POST"]),
            Route("/users/search", search, methods=["GET"]),
            Route("/users/{id}", get_user, methods=["GET"]),
            Route("/avatars/import", import_avatar, methods=["POST"]),
            Route("/admin", admin),
            Route("/v1/users", legacy_users),
        ]
    )
    app.add_middleware(Misconfigured)
    return app


# -- the hardened twin ---------------------------------------------------------------------------

_MAX_BODY = 64 * 1024
_WINDOW_LIMIT = 20


def hardened_app() -> Starlette:
    """The same description, every flaw fixed."""
    db = _database()
    hits: dict[tuple[str, str], list[float]] = {}

    def claims(request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return _verified_decode(header[7:])

    def problem(status: int, detail: str) -> Response:
        return JSONResponse({"title": "error", "detail": detail}, status_code=status)

    async def list_users(request: Request) -> Response:
        if claims(request) is None:
            return problem(401, "unauthorized")
        raw = request.query_params.get("limit", "10")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return problem(422, "limit must be 1..100")
        rows = db.execute("SELECT * FROM users ORDER BY id LIMIT ?", (int(raw),)).fetchall()
        return JSONResponse([_public(r) for r in rows])

    async def create_user(request: Request) -> Response:
        if claims(request) is None:
            return problem(401, "unauthorized")
        if int(request.headers.get("content-length") or 0) > _MAX_BODY:
            return problem(413, "body too large")
        body = await request.body()
        if len(body) > _MAX_BODY:
            return problem(413, "body too large")
        try:
            data = json.loads(body)
        except ValueError:
            return problem(400, "invalid JSON")
        if (
            not isinstance(data, dict)
            or set(data) != {"name", "email"}
            or not all(isinstance(v, str) and len(v) <= 100 for v in data.values())
        ):
            return problem(422, "body must be {name, email}")
        cur = db.execute(
            "INSERT INTO users (name, email, password_hash, is_admin) VALUES (?, ?, '', 0)",
            (data["name"], data["email"]),
        )
        row = db.execute("SELECT * FROM users WHERE id = ?", (cur.lastrowid,)).fetchone()
        return JSONResponse(_public(row), status_code=201)

    async def search(request: Request) -> Response:
        if claims(request) is None:
            return problem(401, "unauthorized")
        name = request.query_params.get("name")
        if name is None:
            return problem(422, "name is required")
        rows = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchall()
        return JSONResponse([_public(r) for r in rows])

    async def get_user(request: Request) -> Response:
        who = claims(request)
        if who is None:
            return problem(401, "unauthorized")
        raw = request.path_params["id"]
        if not raw.isdigit():
            return problem(422, "id must be an integer")
        if raw != who["sub"] and who.get("role") != "admin":
            return problem(404, "not found")
        row = db.execute("SELECT * FROM users WHERE id = ?", (int(raw),)).fetchone()
        if row is None:
            return problem(404, "not found")
        return JSONResponse(_public(row))

    async def import_avatar(request: Request) -> Response:
        if claims(request) is None:
            return problem(401, "unauthorized")
        data = await request.json()
        url = str(data.get("url", "")) if isinstance(data, dict) else ""
        if not url.startswith("https://images.example.test/"):
            return problem(400, "url must be on images.example.test")
        return JSONResponse({"status": "queued"})

    async def admin(request: Request) -> Response:
        who = claims(request)
        if who is None:
            return problem(401, "unauthorized")
        if who.get("role") != "admin":
            return problem(403, "forbidden")
        return JSONResponse({"users": db.execute("SELECT count(*) FROM users").fetchone()[0]})

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    class Hardened(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            key = (
                request.headers.get(
                    "authorization", request.client.host if request.client else "-"
                ),
                request.url.path,
            )
            now = time.monotonic()
            window = [t for t in hits.get(key, []) if now - t < 1.0]
            window.append(now)
            hits[key] = window
            if len(window) > _WINDOW_LIMIT:
                response: Response = problem(429, "too many requests")
                response.headers["Retry-After"] = "1"
            else:
                try:
                    response = await call_next(request)
                except Exception:
                    response = problem(500, "internal error")
            response.headers["RateLimit-Limit"] = str(_WINDOW_LIMIT)
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-store"
            return response

    app = Starlette(
        routes=[
            Route("/openapi.json", openapi),
            Route("/users", list_users, methods=["GET"]),
            Route("/users", create_user, methods=["POST"]),
            Route("/users/search", search, methods=["GET"]),
            Route("/users/{id}", get_user, methods=["GET"]),
            Route("/avatars/import", import_avatar, methods=["POST"]),
            Route("/admin", admin, methods=["GET"]),
        ]
    )
    app.add_middleware(Hardened)
    return app


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "the security target's server thread ended before it started"
        return server.started

    wait_for(started, "the security target to start", timeout=10, every=0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
