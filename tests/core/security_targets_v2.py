"""A second planted-flaw API for the security tester, in another style than the first.

Plain ASGI (no framework), camelCase names under /api/v2, API keys in an `X-Api-Key` header.
`workspace_app(hardened=False)` plants one flaw per kind in `PLANTED` (most of them past the
first few reads and writes, so a scanner that stops early misses them);
`workspace_app(hardened=True)` serves the same description with every flaw fixed. Both
serve the description at /openapi.json. Nothing here reaches beyond loopback: the shell,
the file system and the webhook fetcher are simulated or loopback-only.
"""

from __future__ import annotations

import json
import posixpath
import re
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

__all__ = [
    "ADMIN_KEY",
    "ALICE_KEY",
    "BOB_KEY",
    "PLANTED",
    "SPEC",
    "PlantedKind",
    "auth_shape",
    "workspace_app",
]

ALICE_KEY = "wk_live_alice_7f3a9c"
BOB_KEY = "wk_live_bob_2d81e4"
ADMIN_KEY = "wk_live_carol_admin_c05b17"
_KEYS = {ALICE_KEY: 1, BOB_KEY: 2, ADMIN_KEY: 3}
_ADMINS = {3}
_PROJECTS = 120  # more than pageSize's documented maximum of 50
_WINDOW_LIMIT = 20
_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class PlantedKind:
    """One planted flaw: where it is and the probes whose finding counts as finding it."""

    kind: str
    category: str
    probes: tuple[str, ...]
    where: str


PLANTED: tuple[PlantedKind, ...] = (
    PlantedKind("object read without credentials", "API2", ("API2.no_credentials",),
                "GET /api/v2/invoices/{invoiceId} (7th read; id from the documented example)"),
    PlantedKind("any API key accepted", "API2", ("API2.malformed_token",),
                "GET /api/v2/notes (10th read)"),
    PlantedKind("every field returned, secrets included", "API3",
                ("API3.sensitive_fields", "API3.undocumented_fields"),
                "GET /api/v2/members/{memberId} (8th read; small integer id)"),
    PlantedKind("mass assignment", "API3", ("API3.mass_assignment",),
                "POST /api/v2/members (5th write)"),
    PlantedKind("another user's object (BOLA)", "API1", ("API1.object_ids",),
                "GET /api/v2/projects/{projectId} (6th read)"),
    PlantedKind("unbounded page size", "API4", ("API4.page_size",),
                "GET /api/v2/projects?pageSize= (5th read)"),
    PlantedKind("no rate limit", "API4", ("API4.rate_limit",), "every operation"),
    PlantedKind("non-admin reaches an admin function", "API5", ("API5.admin_paths",),
                "GET /api/v2/admin/auditLog (15th read)"),
    PlantedKind("SSRF through a URL field", "API7", ("API7.url_parameters",),
                "POST /api/v2/webhooks/test (6th write)"),
    PlantedKind("missing security headers", "API8", ("API8.security_headers",),
                "every response"),
    PlantedKind("CORS wildcard with credentials", "API8", ("API8.cors",), "every response"),
    PlantedKind("stack trace in a 500 body", "API8", ("API8.verbose_errors",),
                "GET /api/v2/shipments/{shipmentId} (9th read; a non-numeric id)"),
    PlantedKind("SQL error text", "API8", ("INJ.sql",),
                "GET /api/v2/orders/search?customerName= (11th read)"),
    PlantedKind("path traversal output", "API8", ("INJ.path_traversal",),
                "GET /api/v2/reports/export?fileName= (12th read)"),
    PlantedKind("template injection evaluated", "API8", ("INJ.template",),
                "GET /api/v2/greetings/preview?template= (13th read)"),
    PlantedKind("command injection, `id` output in the body", "API8", ("INJ.command",),
                "GET /api/v2/tools/ping?host= (14th read)"),
    PlantedKind("undocumented older version", "API9", ("API9.versions",),
                "GET /api/v1/projects (next to the documented /api/v2/projects)"),
)  # fmt: skip


def auth_shape() -> dict[str, Any]:
    """The documented `auth` shape for this API: two users with their own project, an admin."""
    return {
        "users": [
            {"name": "alice", "headers": {"X-Api-Key": ALICE_KEY}, "ids": {"projectId": 1}},
            {"name": "bob", "headers": {"X-Api-Key": BOB_KEY}, "ids": {"projectId": 2}},
        ],
        "admin": {"headers": {"X-Api-Key": ADMIN_KEY}},
    }


# -- the description ------------------------------------------------------------------------------


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required or list(props),
        "properties": props,
    }


_S = {"type": "string"}
_I = {"type": "integer"}
_SCHEMAS: dict[str, Any] = {
    "Account": _obj({"accountId": _I, "displayName": _S, "email": _S}),
    "Team": _obj({"teamId": _I, "name": _S, "ownerId": _I}),
    "Project": _obj({"projectId": _I, "title": _S, "ownerId": _I, "budgetCents": _I}),
    "ProjectSummary": _obj({"projectId": _I, "title": _S}),
    "Invoice": _obj({"invoiceId": _I, "accountId": _I, "totalCents": _I}),
    "Member": _obj(
        {"memberId": _I, "displayName": _S, "email": _S, "isAdmin": {"type": "boolean"}}
    ),
    "Shipment": _obj({"shipmentId": _I, "status": _S}),
    "Note": _obj({"noteId": _I, "text": _S}),
    "Order": _obj({"orderId": _I, "customerName": _S, "totalCents": _I}),
    "Status": _obj({"status": _S}),
    "Text": _obj({"text": _S}),
    "AuditEntry": _obj({"at": _S, "actor": _I, "action": _S}),
}


def _ref(name: str, many: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    if many:
        schema = {"type": "array", "items": schema}
    return {"200": {"description": name, "content": {"application/json": {"schema": schema}}}}


def _path_id(name: str, example: int | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": {**_I}}
    if example is not None:
        param["example"] = example
    return param


def _query(name: str, example: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": True, "schema": _S, "example": example}


def _body(props: dict[str, Any]) -> dict[str, Any]:
    schema = _obj(props)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _get(op_id: str, result: str, *params: dict[str, Any], many: bool = False) -> dict[str, Any]:
    return {"operationId": op_id, "parameters": list(params), "responses": _ref(result, many)}


def _write(op_id: str, result: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"operationId": op_id, "requestBody": _body(props), "responses": _ref(result)}


_PAGE_SIZE = {
    "name": "pageSize",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
}

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Workspace API", "version": "2.4.0"},
    "security": [{"apiKey": []}],
    "components": {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "schemas": _SCHEMAS,
    },
    "paths": {
        "/api/v2/status": {"get": _get("getStatus", "Status")},
        "/api/v2/accounts/me": {
            "get": _get("getMyAccount", "Account"),
            "patch": _write("updateMyAccount", "Account", {"displayName": _S}),
        },
        "/api/v2/teams": {
            "get": _get("listTeams", "Team", many=True),
            "post": _write("createTeam", "Team", {"name": _S}),
        },
        "/api/v2/teams/{teamId}": {"get": _get("getTeam", "Team", _path_id("teamId"))},
        "/api/v2/projects": {
            "get": _get("listProjects", "ProjectSummary", _PAGE_SIZE, many=True),
            "post": _write("createProject", "Project", {"title": _S}),
        },
        "/api/v2/projects/{projectId}": {
            "get": _get("getProject", "Project", _path_id("projectId"))
        },
        "/api/v2/invoices/{invoiceId}": {
            "get": _get("getInvoice", "Invoice", _path_id("invoiceId", 1001))
        },
        "/api/v2/members/{memberId}": {"get": _get("getMember", "Member", _path_id("memberId"))},
        "/api/v2/shipments/{shipmentId}": {
            "get": _get("getShipment", "Shipment", _path_id("shipmentId", 501))
        },
        "/api/v2/notes": {
            "get": _get("listNotes", "Note", many=True),
            "post": _write("createNote", "Note", {"text": _S}),
        },
        "/api/v2/orders/search": {
            "get": _get("searchOrders", "Order", _query("customerName", "alice"), many=True)
        },
        "/api/v2/reports/export": {
            "get": _get("exportReport", "Text", _query("fileName", "summary-2026-01.csv"))
        },
        "/api/v2/greetings/preview": {
            "get": _get("previewGreeting", "Text", _query("template", "Hello {{name}}"))
        },
        "/api/v2/tools/ping": {"get": _get("pingHost", "Text", _query("host", "127.0.0.1"))},
        "/api/v2/admin/auditLog": {"get": _get("getAuditLog", "AuditEntry", many=True)},
        "/api/v2/members": {
            "post": _write("createMember", "Member", {"displayName": _S, "email": _S})
        },
        "/api/v2/webhooks/test": {
            "post": _write(
                "testWebhook", "Status", {"callbackUrl": {"type": "string", "format": "uri"}}
            )
        },
    },
}


# -- the simulated outside world ----------------------------------------------------------------

_FILES = {
    "/srv/reports/summary-2026-01.csv": "month,totalCents\n2026-01,129900\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
}
_SHELL_SPLIT = re.compile(r";|\|\|?|&&|\$\(|\)|`|\n")


def _simulated_shell(command: str) -> str:
    """What `sh -c command` would print for the few commands this target knows."""
    out = []
    for part in (p.strip() for p in _SHELL_SPLIT.split(command)):
        words = part.split()
        if not words:
            continue
        if words[0] == "ping":
            out.append(f"PING {words[-1]}: 1 packets transmitted, 1 received")
        elif words[0] == "id":
            out.append("uid=0(root) gid=0(root) groups=0(root)")
        elif words[0] == "whoami":
            out.append("root")
        elif words[0] == "cat" and len(words) > 1:
            out.append(_FILES.get(words[1], f"cat: {words[1]}: No such file or directory"))
    return "\n".join(out)


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE orders (orderId INTEGER PRIMARY KEY, customerName TEXT, total INT)")
    db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?)",
        [(1, "alice", 4200), (2, "bob", 1999), (3, "carol", 870)],
    )
    db.commit()
    return db


def _seed() -> dict[str, Any]:
    names = {1: "alice", 2: "bob", 3: "carol"}
    return {
        "accounts": {i: {"accountId": i, "displayName": n, "email": f"{n}@example.test"}
                     for i, n in names.items()},
        "members": {i: {"memberId": i, "displayName": n, "email": f"{n}@example.test",
                        "isAdmin": i in _ADMINS, "passwordHash": f"$argon2id$v=19$m=65536$h{i:04d}",
                        "apiKey": key} for key, i in _KEYS.items() for n in [names[i]]},
        "teams": {1: {"teamId": 1, "name": "alpha", "ownerId": 1},
                  2: {"teamId": 2, "name": "bravo", "ownerId": 2}},
        "projects": {i: {"projectId": i, "title": f"project-{i}", "ownerId": min(i, 3),
                         "budgetCents": 10000 * i} for i in range(1, _PROJECTS + 1)},
        "invoices": {1001: {"invoiceId": 1001, "accountId": 1, "totalCents": 129900},
                     1002: {"invoiceId": 1002, "accountId": 2, "totalCents": 5400}},
        "shipments": {501: {"shipmentId": 501, "status": "in transit"}},
        "notes": {1: {"noteId": 1, "text": "welcome to the workspace"}},
    }  # fmt: skip


# -- the app --------------------------------------------------------------------------------------

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Reply(Exception):
    """Ends a handler early with a status and a JSON (or text) body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


@dataclass
class Call:
    """One request as a handler sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The JSON object body; 400 when the body is not one."""
        try:
            data = json.loads(self.body or b"null")
        except ValueError:
            raise Reply(400, {"error": "invalid JSON"}) from None
        if not isinstance(data, dict):
            raise Reply(400, {"error": "the body must be a JSON object"})
        return data


class Workspace:
    """The Workspace API's handlers; `hardened` decides whether each planted flaw is fixed."""

    def __init__(self, hardened: bool) -> None:
        self.hardened = hardened
        self.data = _seed()
        self.db = _database()
        self.hits: dict[tuple[str, str], list[float]] = {}

    # -- identity

    def caller(self, call: Call) -> int:
        """The account id of the caller's API key; 401 without a known key."""
        key = call.headers.get("x-api-key", "")
        if key not in _KEYS:
            raise Reply(401, {"error": "a valid X-Api-Key header is required"})
        return _KEYS[key]

    def record(self, table: str, raw: str) -> dict[str, Any]:
        """The stored object `raw` names; 404 when there is none (or the id is not a number)."""
        found = self.data[table].get(int(raw)) if raw.isdigit() else None
        if found is None:
            raise Reply(404, {"error": "not found"})
        return found

    # -- reads

    async def status(self, call: Call) -> Any:
        self.caller(call)
        return {"status": "ok"}

    async def my_account(self, call: Call) -> Any:
        return self.data["accounts"][self.caller(call)]

    async def teams(self, call: Call) -> Any:
        me = self.caller(call)
        return [t for t in self.data["teams"].values() if t["ownerId"] == me]

    async def team(self, call: Call) -> Any:
        me, team = self.caller(call), self.record("teams", call.params["teamId"])
        if team["ownerId"] != me:
            raise Reply(404, {"error": "not found"})
        return team

    async def projects(self, call: Call) -> Any:
        self.caller(call)
        raw = call.query.get("pageSize", "10")
        if not raw.isdigit() or int(raw) < 1:
            raise Reply(400, {"error": "pageSize must be a positive integer"})
        size = int(raw)
        if self.hardened and size > 50:
            raise Reply(400, {"error": "pageSize must be at most 50"})
        rows = list(self.data["projects"].values())[:size]  # planted: no cap
        return [{"projectId": p["projectId"], "title": p["title"]} for p in rows]

    async def legacy_projects(self, call: Call) -> Any:  # planted: retired v1, no key needed
        if self.hardened:
            raise Reply(404, {"error": "not found"})
        rows = list(self.data["projects"].values())[:20]
        return [{"id": p["projectId"], "name": p["title"], "owner": p["ownerId"]} for p in rows]

    async def project(self, call: Call) -> Any:
        me, project = self.caller(call), self.record("projects", call.params["projectId"])
        if self.hardened and project["ownerId"] != me:  # planted: no owner check (BOLA)
            raise Reply(404, {"error": "not found"})
        return project

    async def invoice(self, call: Call) -> Any:
        # Planted: the key is checked only when one is sent.
        me = self.caller(call) if self.hardened or "x-api-key" in call.headers else None
        invoice = self.record("invoices", call.params["invoiceId"])
        if me is not None and invoice["accountId"] != me:
            raise Reply(404, {"error": "not found"})
        return invoice

    async def member(self, call: Call) -> Any:
        me, member = self.caller(call), self.record("members", call.params["memberId"])
        if member["memberId"] != me:
            raise Reply(404, {"error": "not found"})
        if self.hardened:
            return {k: member[k] for k in ("memberId", "displayName", "email", "isAdmin")}
        return member  # planted: the stored record, passwordHash and apiKey included

    async def shipment(self, call: Call) -> Any:
        self.caller(call)
        raw = call.params["shipmentId"]
        if self.hardened and not raw.isdigit():
            raise Reply(400, {"error": "shipmentId must be an integer"})
        try:
            found = self.data["shipments"].get(int(raw))
        except ValueError:  # planted: debug output for a bad id
            raise Reply(500, traceback.format_exc()) from None
        if found is None:
            raise Reply(404, {"error": "not found"})
        return found

    async def notes(self, call: Call) -> Any:
        if self.hardened:
            self.caller(call)
        elif not call.headers.get("x-api-key"):  # planted: any key at all will do
            raise Reply(401, {"error": "a valid X-Api-Key header is required"})
        return list(self.data["notes"].values())

    async def orders(self, call: Call) -> Any:
        self.caller(call)
        name = call.query.get("customerName", "")
        sql = "SELECT * FROM orders WHERE customerName = "
        try:
            if self.hardened:
                rows = self.db.execute(sql + "?", (name,)).fetchall()
            else:  # planted: SQL built by concatenation, its error sent back
                rows = self.db.execute(sql + "'" + name + "'").fetchall()
        except sqlite3.Error as exc:
            raise Reply(500, {"error": f"sqlite3.{type(exc).__name__}: {exc}"}) from None
        return [{"orderId": r[0], "customerName": r[1], "totalCents": r[2]} for r in rows]

    async def export(self, call: Call) -> Any:
        self.caller(call)
        name = call.query.get("fileName", "")
        if self.hardened and (not name or "/" in name or "\\" in name or ".." in name):
            raise Reply(400, {"error": "fileName must be a report name"})
        path = posixpath.normpath(posixpath.join("/srv/reports", name))  # planted: ../ escapes
        if path not in _FILES:
            raise Reply(404, {"error": "no such report"})
        return {"text": _FILES[path]}

    async def preview(self, call: Call) -> Any:
        me = self.caller(call)
        template = call.query.get("template", "")
        text = template.replace("{{name}}", self.data["accounts"][me]["displayName"])
        if not self.hardened:  # planted: expressions in the template are evaluated
            text = re.sub(
                r"(\{\{|\$\{|<%=|#\{)\s*(\d+)\s*\*\s*(\d+)\s*(\}\}|\}|%>)",
                lambda m: str(int(m.group(2)) * int(m.group(3))),
                text,
            )
        return {"text": text}

    async def ping(self, call: Call) -> Any:
        self.caller(call)
        host = call.query.get("host", "")
        if self.hardened:
            if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host):
                raise Reply(400, {"error": "host must be a host name or an IPv4 address"})
            return {"text": _simulated_shell(f"ping -c 1 {host}")}
        return {"text": _simulated_shell(f"ping -c 1 {host}")}  # planted: a shell line

    async def audit_log(self, call: Call) -> Any:
        me = self.caller(call)
        if self.hardened and me not in _ADMINS:  # planted: no role check
            raise Reply(403, {"error": "admins only"})
        return [{"at": "2026-01-05T10:00:00Z", "actor": 3, "action": "rotateKeys"}]

    # -- writes

    def _text_fields(self, call: Call, *names: str) -> dict[str, str]:
        data = call.json()
        values = {n: data.get(n) for n in names}
        if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values.values()):
            raise Reply(422, {"error": f"{', '.join(names)}: strings of 1..200 characters"})
        return values  # type: ignore[return-value]

    def _insert(self, table: str, key: str, row: dict[str, Any]) -> dict[str, Any]:
        new_id = max(self.data[table], default=0) + 1
        self.data[table][new_id] = {key: new_id, **row}
        return self.data[table][new_id]

    async def update_account(self, call: Call) -> Any:
        account = self.data["accounts"][self.caller(call)]
        account.update(self._text_fields(call, "displayName"))
        return account

    async def create_team(self, call: Call) -> Any:
        me = self.caller(call)
        return self._insert("teams", "teamId", {**self._text_fields(call, "name"), "ownerId": me})

    async def create_project(self, call: Call) -> Any:
        me = self.caller(call)
        fields = self._text_fields(call, "title")
        return self._insert("projects", "projectId", {**fields, "ownerId": me, "budgetCents": 0})

    async def create_note(self, call: Call) -> Any:
        self.caller(call)
        return self._insert("notes", "noteId", self._text_fields(call, "text"))

    async def create_member(self, call: Call) -> Any:
        self.caller(call)
        row: dict[str, Any] = {**self._text_fields(call, "displayName", "email"), "isAdmin": False}
        if not self.hardened:  # planted: every property of the body is stored
            row.update({k: v for k, v in call.json().items() if k != "memberId"})
        return self._insert("members", "memberId", row)

    async def test_webhook(self, call: Call) -> Any:
        self.caller(call)
        url = call.json().get("callbackUrl")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Reply(422, {"error": "callbackUrl must be an http(s) URL"})
        if self.hardened and not url.startswith("https://hooks.example.test/"):
            raise Reply(400, {"error": "callbackUrl must be on hooks.example.test"})
        # Planted: the server fetches whatever URL it is given. Loopback only, so that the
        # test never reaches beyond this machine.
        if self.hardened or urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            return {"status": "queued"}
        try:
            async with httpx.AsyncClient(timeout=3, trust_env=False) as client:
                fetched = await client.get(url)
        except httpx.HTTPError:
            raise Reply(502, {"error": "callback unreachable"}) from None
        return {"status": f"delivered ({fetched.status_code}): {fetched.text[:200]}"}


_ID = r"(?P<{}>[^/]+)"
Handler = Callable[[Workspace, Call], Awaitable[Any]]


def _routes() -> list[tuple[str, re.Pattern[str], Handler]]:
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/api/v2/status", Workspace.status),
        ("GET", "/api/v2/accounts/me", Workspace.my_account),
        ("PATCH", "/api/v2/accounts/me", Workspace.update_account),
        ("GET", "/api/v2/teams", Workspace.teams),
        ("POST", "/api/v2/teams", Workspace.create_team),
        ("GET", "/api/v2/teams/{teamId}", Workspace.team),
        ("GET", "/api/v2/projects", Workspace.projects),
        ("POST", "/api/v2/projects", Workspace.create_project),
        ("GET", "/api/v1/projects", Workspace.legacy_projects),
        ("GET", "/api/v2/projects/{projectId}", Workspace.project),
        ("GET", "/api/v2/invoices/{invoiceId}", Workspace.invoice),
        ("GET", "/api/v2/members/{memberId}", Workspace.member),
        ("POST", "/api/v2/members", Workspace.create_member),
        ("GET", "/api/v2/shipments/{shipmentId}", Workspace.shipment),
        ("GET", "/api/v2/notes", Workspace.notes),
        ("POST", "/api/v2/notes", Workspace.create_note),
        ("GET", "/api/v2/orders/search", Workspace.orders),
        ("GET", "/api/v2/reports/export", Workspace.export),
        ("GET", "/api/v2/greetings/preview", Workspace.preview),
        ("GET", "/api/v2/tools/ping", Workspace.ping),
        ("GET", "/api/v2/admin/auditLog", Workspace.audit_log),
        ("POST", "/api/v2/webhooks/test", Workspace.test_webhook),
    ]
    return [
        (method, re.compile(re.sub(r"\{(\w+)\}", lambda m: _ID.format(m.group(1)), path) + "$"), h)
        for method, path, h in table
    ]


def workspace_app(*, hardened: bool = False) -> App:
    """The Workspace API as a plain ASGI app: planted flaws, or (hardened) every one fixed."""
    api = Workspace(hardened)
    routes = _routes()

    async def dispatch(call: Call) -> tuple[int, Any]:
        if call.method == "GET" and call.path == "/openapi.json":
            return 200, SPEC
        allowed = False
        for method, pattern, handler in routes:
            found = pattern.match(call.path)
            if found:
                allowed = True
                if method == call.method:
                    call.params = found.groupdict()
                    return 200, await handler(api, call)
        raise Reply(
            405 if allowed else 404, {"error": "method not allowed" if allowed else "no such path"}
        )

    def throttled(call: Call) -> bool:
        key = (call.headers.get("x-api-key", "-"), call.path)
        now = time.monotonic()
        window = [t for t in api.hits.get(key, []) if now - t < 1.0] + [now]
        api.hits[key] = window
        return len(window) > _WINDOW_LIMIT

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > _MAX_BODY or not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        call = Call(scope["method"], scope["path"], query, headers, {}, body)
        extra: dict[str, str] = {}
        try:
            if len(body) > _MAX_BODY:
                raise Reply(413, {"error": "the body is over 64 KiB"})
            if api.hardened and throttled(call):
                extra["Retry-After"] = "1"
                raise Reply(429, {"error": "too many requests"})
            if not api.hardened and call.method == "OPTIONS":
                raise Reply(204, None)
            status, payload = await dispatch(call)
        except Reply as reply:
            status, payload = reply.status, reply.body
        except Exception:
            status, payload = 500, {"error": "internal error"}
        if isinstance(payload, str):
            raw, kind = payload.encode(), "text/plain; charset=utf-8"
        else:
            raw, kind = (
                (b"" if payload is None else json.dumps(payload).encode()),
                "application/json",
            )
        out = {"content-type": kind, **extra}
        if api.hardened:
            out |= {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                    "RateLimit-Limit": str(_WINDOW_LIMIT)}  # fmt: skip
        else:  # planted: any origin, with credentials; no security headers, no rate limit
            out |= {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Allow-Headers": "X-Api-Key, Content-Type"}  # fmt: skip
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out.items()],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    return app
