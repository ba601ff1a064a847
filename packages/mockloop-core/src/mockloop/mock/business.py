"""The business port: a plain ASGI app serving the described API.

The hot path is deliberately small: one tree walk to route, the auth and validation gates only
where they apply, a cached pre-serialised body, and one `submit` to the log writer, whose
thread does all the encoding and redaction off the request path. On MockLoop's own protocol
the answer leaves whole in one write, without the ASGI messages (`OneWriteCycle`), and a pure
mock's request runs without an asyncio task unless it waits (`runs_in_place`); under any other
ASGI server the app speaks plain ASGI.

A pure mock and a mock under proxy settings (proxy, record, replay, hybrid) share one request
pipeline, `BusinessApp._http`: read, route, answer, log, send, notify. Only the answering step
differs, chosen by one look at `runtime.proxy`: the mock answers (`_answer`), or the proxy stage
(`_proxied`) sends the request to the mock, the live API or a recording.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

from mockloop.mock.cors import security_headers
from mockloop.mock.docs import DOCS_PREFIXES, BusinessDocs
from mockloop.mock.http_protocol import one_write_cycle
from mockloop.mock.problem import PreparedResponse, problem
from mockloop.mock.request_log.writer import LogRecord
from mockloop.mock.runtime import MockRuntime, ServedDescription
from mockloop.mock.scenarios.matching import RequestView
from mockloop.mock.scenarios.ratelimit import RateLimiter
from mockloop.mock.scenarios.rules import ResponseSpec as _ResponseSpec
from mockloop.mock.scenarios.templates import RenderContext, TooLarge, render_response
from mockloop.settings import PROBE_HEADER

if TYPE_CHECKING:
    from mockloop.mock.router import Match
    from mockloop.proxy.engine import ProxyEngine
    from mockloop.proxy.forwarder import UpstreamOutcome

__all__ = ["BusinessApp"]

logger = logging.getLogger("mockloop.mock")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_BODYLESS = {"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"}
_JSON = [(b"content-type", b"application/json")]
_PROBE_HEADER = PROBE_HEADER.lower().encode()
_LIMITED = _ResponseSpec(status=429)  # the documented 429 of an operation, for a throttled call


class _BodyTooLarge(Exception):
    pass


class _ProxyTurn:
    """One request's way through the proxy stage: the engine, which side answered (the
    `x-mockloop-mode` header and the log's `mode`) and what the live API said, if asked."""

    __slots__ = ("engine", "mode", "upstream")

    def __init__(self, engine: ProxyEngine) -> None:
        self.engine = engine
        self.mode = "mock"
        self.upstream: UpstreamOutcome | None = None

    def annotate(self, record: LogRecord) -> None:
        """Add the upstream call's status, time and (scrubbed) error to the request's record."""
        upstream = self.upstream
        if upstream is not None:
            record.upstream_status = upstream.status
            record.upstream_latency_ms = upstream.latency_ms
            if upstream.error:
                record.upstream_error = self.engine.scrub_text(upstream.error)


class BusinessApp:
    """ASGI app for the business port; `lifespan` hooks start and stop the runtime (and the
    admin server, through `on_startup`/`on_shutdown` callbacks set by the server module)."""

    def __init__(
        self,
        runtime: MockRuntime,
        *,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        self._health_body: bytes | None = None
        self._health_key: tuple[Any, ...] = ()
        self._docs: BusinessDocs | None = None

    @property
    def runs_in_place(self) -> bool:
        """Whether a request may start outside an asyncio task (see `CoalescingHttpProtocol`):
        a pure mock, whose answer needs no task; the proxy stage's async HTTP client does."""
        return self.runtime.proxy is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    # -- lifespan ---------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Where a description reloaded by `--watch` is put in force (MockRuntime._on_loop).
                self.runtime.loop = asyncio.get_running_loop()
                try:
                    await asyncio.to_thread(self.runtime.start)
                    if self.on_startup is not None:
                        await self.on_startup()
                except Exception as exc:
                    logger.error("mock start-up failed: %s", exc)
                    await asyncio.to_thread(self.runtime.stop)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self.on_shutdown is not None:
                        await self.on_shutdown()
                    if self.runtime.proxy is not None:
                        await self.runtime.proxy.aclose()
                finally:
                    self.runtime.loop = None
                    await asyncio.to_thread(self.runtime.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests ---------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request: read, route, answer, log, send, notify.

        The one pipeline for a pure mock and a mock under proxy settings. Only the answering
        step differs: the mock answers, or, when the runtime has proxy settings, the proxy
        stage (`_proxied`) picks the mock, the live API or the recording. A pure mock pays
        for proxying with the `runtime.proxy is None` check and three `turn is None` checks.
        """
        started = time.perf_counter()
        runtime = self.runtime
        engine = runtime.proxy
        turn = None if engine is None else _ProxyTurn(engine)  # None: a pure mock
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        path = raw_path.decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        body = b""
        operation_id = None
        op: Any = None
        prepared: PreparedResponse
        cors = runtime.cors
        origin = _header(scope, b"origin") if cors.enabled else None
        preflight = None
        try:
            if origin is not None and method == "OPTIONS":
                preflight = self._preflight(scope, origin, path)
            if preflight is not None:
                prepared = preflight
            else:
                if method not in _BODYLESS or _has_body(scope):
                    body = await _read_body(receive, runtime.config.max_body_bytes)
                # One version of the description routes and answers this request, whatever
                # `--watch` puts in force while it awaits (MockRuntime.served).
                served = runtime.served
                match = served.router.match(method, path, query)
                op = match.operation
                if turn is not None:  # proxy settings: the proxy stage picks the side that answers
                    operation_id = op.operation_id if op is not None else None
                    prepared = await self._proxied(
                        served, turn, scope, op, match, method, path, query, body
                    )
                elif op is not None:
                    operation_id = op.operation_id
                    # An encoded `?` in the path moved part of it into the query (router.py).
                    seen = query if match.query is None else match.query
                    prepared = await self._answer(served, scope, op, match.path_params, seen, body)
                else:
                    prepared = self._unrouted(method, path, match.allowed, match.detail)
        except _BodyTooLarge:
            prepared = problem(
                413,
                f"the request body exceeds the mock's limit of {runtime.config.max_body_bytes} "
                "bytes (raise it with max_body_bytes)",
            )
        except Exception as exc:  # the mock answers, whatever went wrong inside it
            # One line: a hostile description or request must not fill the log with tracebacks.
            logger.error(
                "error while answering %s %s: %s: %s",
                method,
                path,
                type(exc).__name__,
                exc,
                exc_info=exc if logger.isEnabledFor(logging.DEBUG) else None,
            )
            prepared = problem(
                500,
                f"the mock failed to answer: {type(exc).__name__}: {exc}",
                title="Mock internal error",
            )
        body_out = b"" if method == "HEAD" else prepared.body
        headers = [*prepared.headers, (b"content-length", str(len(prepared.body)).encode())]
        if turn is None:
            mode = "mock"
        else:
            mode = turn.mode
            headers.append((b"x-mockloop-mode", mode.encode()))
        # MockLoop's own pages (/docs, /health, /openapi.json) keep their own headers.
        if runtime.config.security_headers != "off" and prepared.source != "builtin":
            headers.extend(security_headers(runtime.config.security_headers, headers))
        if origin is not None and preflight is None:
            # The policy's headers replace any the answer carries (a description may document
            # its own Access-Control-Allow-Origin): two values make browsers refuse both.
            headers = [h for h in headers if not h[0].startswith(b"access-control-")]
            headers.extend(cors.response_headers(origin, headers))
        elif cors.listed and origin is None:
            headers.append((b"vary", b"Origin"))  # the answer differs by Origin: caches key on it
        writer = runtime.log_writer
        if writer is not None and not (prepared.source == "builtin" and _is_probe(scope)):
            client = scope.get("client")
            record = LogRecord(
                ts=time.time(),
                method=method,
                path=scope["path"],
                query=query,
                operation_id=operation_id,
                status=prepared.status,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                request_headers=scope["headers"],
                response_headers=headers,
                request_body=body,
                response_body=body_out,
                client=f"{client[0]}:{client[1]}" if client else "",
                scenario=runtime.rules.active_scenario,
                mode=mode,
            )
            if turn is not None:
                turn.annotate(record)
            writer.submit(record)
        # Numbered before the answer leaves: a process killed after answering has always
        # counted the request (see request_log.counters).
        # One write without the ASGI messages on MockLoop's own protocol (`OneWriteCycle`).
        cycle = one_write_cycle(send)
        if cycle is None or not cycle.write_whole(prepared.status, headers, body_out):
            await send(
                {"type": "http.response.start", "status": prepared.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body_out})
        hooks = runtime.webhooks
        if hooks is not None and hooks.active:
            hooks.notify(
                method=method,
                path=scope["path"],
                query=query,
                operation_id=operation_id,
                template=op.path if op is not None else None,
                status=prepared.status,
            )

    def _preflight(self, scope: Scope, origin: str, path: str) -> PreparedResponse | None:
        """A CORS preflight's answer (None: a plain OPTIONS, routed as any request)."""
        asked = _header(scope, b"access-control-request-method")
        if asked is None:
            return None
        cors = self.runtime.cors
        if not cors.allows(origin):
            return problem(
                403,
                f"origin {origin!r} may not call this mock: allow it with --cors {origin} "
                "(MockConfig.cors)",
            )
        methods = self.runtime.router.methods_for(path)
        if not methods:
            return problem(404, f"no operation of {self.runtime.spec.title!r} matches {path}")
        headers = cors.preflight_headers(
            origin,
            methods,
            _header(scope, b"access-control-request-headers") or "",
            _header(scope, b"access-control-request-private-network") == "true",
        )
        return PreparedResponse(204, headers, b"", source="cors")

    async def _proxied(
        self,
        served: ServedDescription,
        turn: _ProxyTurn,
        scope: Scope,
        op: Any,
        match: Match,
        method: str,
        path: str,
        query: str,
        body: bytes,
    ) -> PreparedResponse:
        """The proxy stage: the mock, the live API or the recording answers, as the proxy
        settings route the request, with fallback to the mock when the live API fails and
        that is on. `turn` is filled in as the stage goes, so a request that fails half-way
        is still labelled and logged with the mode it had reached."""
        engine = turn.engine
        params = match.path_params
        local = (
            None if op is not None else self._unrouted(method, path, match.allowed, match.detail)
        )
        if local is not None and (local.source == "builtin" or _is_probe(scope)):
            return local  # /health, /docs and MockLoop's probes stay local
        mode = turn.mode = engine.decide(method, scope["path"], scope["headers"], query).mode
        prepared: PreparedResponse
        if mode == "proxy":
            upstream = turn.upstream = await engine.forward(
                method, path, query, scope["headers"], body
            )
            if engine.should_fall_back(upstream):
                mode = turn.mode = "fallback"
                prepared = local or await self._answer(served, scope, op, params, query, body)
            elif upstream.status is None:
                prepared = problem(
                    upstream.failure_status,
                    f"proxy mode: {engine.scrub_text(upstream.error or '')}; start the "
                    "live API, fix target_url, or turn on fallback_to_mock",
                    title="Upstream unavailable",
                    upstream=engine.settings.target_url,
                )
            else:
                # The live API's body, minus any credential it echoes back: clients of the
                # proxy never see the upstream secrets.
                prepared = PreparedResponse(
                    upstream.status, upstream.headers, engine.scrub(upstream.body), source="proxy"
                )
                recorder = engine.recorder
                if recorder is not None:
                    recorder.capture(
                        method=method,
                        path=scope["path"],
                        query=query,
                        operation_id=op.operation_id if op is not None else None,
                        request_body=body,
                        status=upstream.status,
                        headers=upstream.headers,
                        body=prepared.body,
                    )
        elif mode == "replay":
            replay = engine.replay
            found = replay.answer(method, scope["path"], query, body) if replay else None
            prepared = found or local or await self._answer(served, scope, op, params, query, body)
        else:
            prepared = local or await self._answer(served, scope, op, params, query, body)
        engine.count(mode)
        return prepared

    async def _answer(
        self,
        served: ServedDescription,
        scope: Scope,
        op: Any,
        path_params: dict[str, str],
        query: str,
        body: bytes,
    ) -> PreparedResponse:
        limiter = self.runtime.rate_limiter
        if limiter is None:
            return await self._answer_within(served, scope, op, path_params, query, body)
        allowed, limit_headers = limiter.take(_limit_key(limiter, scope))
        if not allowed:
            return self._throttled(served, scope, op, path_params, limiter, limit_headers)
        prepared = await self._answer_within(served, scope, op, path_params, query, body)
        return _with_headers(prepared, limit_headers)

    async def _answer_within(
        self,
        served: ServedDescription,
        scope: Scope,
        op: Any,
        path_params: dict[str, str],
        query: str,
        body: bytes,
    ) -> PreparedResponse:
        runtime = self.runtime
        accept = prefer = None
        headers: dict[str, str] | None = None
        auth = served.auth
        validator = served.request_validator
        if auth is not None or validator is not None:
            headers = {}
            for name, value in scope["headers"]:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            accept = headers.get("accept")
            prefer = headers.get("prefer")
            if auth is not None:
                refused = auth.check(op, headers, query)
                if refused is not None:
                    return refused
            if validator is not None:
                refused = await validator.check_async(op, path_params, query, headers, body)
                if refused is not None:
                    return refused
        else:
            for name, value in scope["headers"]:
                if name == b"accept":
                    accept = value.decode("latin-1")
                elif name == b"prefer":
                    prefer = value.decode("latin-1")
        rules = runtime.rules
        view = None
        snapshot = rules.snapshot  # one consistent view of the rules for this request
        if snapshot.reads_requests:  # a rule in force tests or echoes the request
            view = RequestView(path_params, query, scope["headers"], body)
        selected = rules.select(op, view, snapshot)
        if selected is None:
            state = served.state
            if state is not None and not prefer:  # a rule or `Prefer` outranks stored data
                stored = state.handle(op, path_params, query, scope["headers"], scope["path"], body)
                if stored is not None:
                    return stored
            return await served.responder.respond_async(
                op, path_params, accept=accept, prefer=prefer
            )
        rule = selected[0]
        limit_headers: list[tuple[bytes, bytes]] = []
        if rule.rate_limit is not None:
            limiter = rules.limiter(rule, snapshot)
            if limiter is not None:
                allowed, limit_headers = limiter.take(_limit_key(limiter, scope))
                if not allowed:  # before the draw: a refused call takes no sequence step
                    return self._throttled(served, scope, op, path_params, limiter, limit_headers)
        response, rule = rules.draw(*selected)
        if response.templated and view is not None:
            room = runtime.config.max_response_bytes
            context = RenderContext(
                view,
                op.method.upper(),
                scope["path"],
                rules.rng,
                room,
                locale=runtime.config.locale,
            )
            try:
                response = render_response(response, context)
            except TooLarge:
                return problem(
                    413,
                    f"the answer {rule.describe()} renders from this request would exceed the "
                    f"mock's response limit of {room} bytes (raise it with --max-response-size)",
                    title="Rendered response too large",
                )
        prepared = served.responder.respond(
            op, path_params, accept=accept, rule=response, scenario=rules.active_scenario
        )
        delay = response.draw_delay(runtime.rules.rng) or rule.draw_delay(runtime.rules.rng)
        if delay > 0:
            await asyncio.sleep(delay)
        return _with_headers(prepared, limit_headers) if limit_headers else prepared

    def _throttled(
        self,
        served: ServedDescription,
        scope: Scope,
        op: Any,
        path_params: dict[str, str],
        limiter: RateLimiter,
        limit_headers: list[tuple[bytes, bytes]],
    ) -> PreparedResponse:
        """The 429 of an empty bucket: the operation's documented 429 when it has one."""
        if "429" in op.responses:
            accept = _header(scope, b"accept")
            documented = served.responder.respond(op, path_params, accept=accept, rule=_LIMITED)
            base = documented
        else:
            wait = next((v for k, v in limit_headers if k == b"retry-after"), b"1").decode()
            base = problem(
                429,
                f"rate limit of {limiter.limit.describe()} exceeded; retry after {wait} s",
            )
        return _with_headers(base, limit_headers, status=429, source="ratelimit")

    # -- built-ins --------------------------------------------------------------------------

    def _unrouted(
        self, method: str, path: str, allowed: tuple[str, ...], detail: str = ""
    ) -> PreparedResponse:
        runtime = self.runtime
        bare = path.split("?", 1)[0].rstrip("/") or "/"
        if method in ("GET", "HEAD"):
            if bare == "/health" and not runtime.defines_health:
                return PreparedResponse(200, _JSON, self._health(), source="builtin")
            if bare.startswith(DOCS_PREFIXES):  # Swagger UI: /docs or /_mockloop/docs
                docs = self._docs
                if docs is None or docs.spec is not runtime.spec:
                    docs = self._docs = BusinessDocs(runtime.spec)
                answer = docs.answer(bare)
                if answer is not None:
                    return answer
            if (
                bare == "/openapi.json"
                and not runtime.router.match("GET", "/openapi.json").operation
            ):
                return PreparedResponse(
                    200, _JSON, orjson.dumps(runtime.spec.document), source="builtin"
                )
        if allowed:
            listed = ", ".join(allowed)
            return problem(
                405,
                f"{method} is not documented for {path}; documented methods: {listed}",
                headers=[(b"allow", listed.encode())],
            )
        why = f": {detail}" if detail else ""
        return problem(404, f"no operation of {runtime.spec.title!r} matches {method} {path}{why}")

    def _health(self) -> bytes:
        runtime = self.runtime
        watch = runtime.watch
        # Built again once the admin URL is known (the admin port starts after this one), and
        # after `--watch` reloaded the description or met a bad edit.
        key = (runtime.admin_url, runtime.generation, watch.version if watch is not None else 0)
        if self._health_body is None or self._health_key != key:
            from mockloop.version import __version__

            self._health_key = key
            self._health_body = orjson.dumps(
                {
                    "status": "ok",
                    "service": "mockloop",
                    "mockloop_version": __version__,
                    "api": {"title": runtime.spec.title, "version": runtime.spec.version},
                    "operations": len(runtime.spec.operations),
                    "admin_url": runtime.admin_url,
                    **({"worker": runtime.worker} if runtime.worker is not None else {}),
                    **({"watch": watch.status()} if watch is not None else {}),
                }
            )
        return self._health_body


def _is_probe(scope: Scope) -> bool:
    """MockLoop's own health probes (client, registry, discovery) are not traffic to log."""
    return any(name == _PROBE_HEADER for name, _ in scope["headers"])


def _limit_key(limiter: RateLimiter, scope: Scope) -> str:
    client = scope.get("client")
    return limiter.key(client[0] if client else "", _header(scope, b"x-session-id"))


def _with_headers(
    prepared: PreparedResponse,
    extra: list[tuple[bytes, bytes]],
    *,
    status: int | None = None,
    source: str | None = None,
) -> PreparedResponse:
    """A copy of `prepared` with `extra` headers (replacing those of the same names): prepared
    answers may be cached and shared, so they are never changed in place."""
    names = {name for name, _ in extra}
    headers = [header for header in prepared.headers if header[0] not in names] + extra
    return PreparedResponse(
        prepared.status if status is None else status,
        headers,
        prepared.body,
        source=prepared.source if source is None else source,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` lower-case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
