"""Test plans generated from a description: a happy path per operation, plus negative cases.

Happy-path steps send every path parameter, the required query, header and cookie
parameters, and a JSON body when the operation takes one, all generated from the schemas
(deterministic for a seed), and expect a documented 2xx status with a body that conforms to the
description. Where the description allows it, item operations use a value captured earlier:
the id returned by the POST that creates the collection's items (create-then-fetch), else the
id of the first item of the collection's list (with the generated value as fallback). Steps
run creates first, then reads, updates and deletes last.

Negative steps assume that the server validates requests (as a MockLoop mock does by default):
only cases whose outcome is well defined are generated, each expecting a 4xx status: missing
credentials (when the server enforces auth), a missing required parameter, a path or query
parameter of the wrong type, a body of the wrong type and a missing required body.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from mockloop.errors import ConfigError
from mockloop.mock.router import split_template
from mockloop.spec.model import ApiSpec, Operation, Parameter
from mockloop.testing.plans.credentials import placeholder_credentials, requires_auth
from mockloop.testing.plans.model import PlanStep, TestPlan

__all__ = ["TargetTraits", "TestFocus", "generate_plan"]

TestFocus = Literal["happy_path", "negative", "comprehensive"]
FOCUSES: tuple[str, ...] = ("happy_path", "negative", "comprehensive")

_RANK = {"POST": 0, "GET": 1, "HEAD": 1, "OPTIONS": 1, "PUT": 2, "PATCH": 2, "DELETE": 4}
_TRANSPORT_HEADERS = {"accept", "content-type", "authorization"}


@dataclass(slots=True)
class TargetTraits:
    """What is known of the server the plan is for.

    Attributes:
        validates: it answers invalid requests with 4xx (negative validation steps need it).
        enforces_auth: it refuses requests without credentials (missing-credential steps).
        credentials: add placeholder credentials (a MockLoop mock checks only their form).
        provided_headers: lower-case names of headers the caller sends with every step.
    """

    validates: bool = True
    enforces_auth: bool = True
    credentials: bool = True
    provided_headers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Source:
    """A step that yields the id an item operation needs: variable name and capture."""

    variable: str
    capture: dict[str, Any]


class _Generator:
    def __init__(self, spec: ApiSpec, traits: TargetTraits, seed: int) -> None:
        from mockloop.fake import SchemaFaker

        self.spec = spec
        self.document = spec.document
        self.traits = traits
        self.faker = SchemaFaker(spec.document, seed=seed)
        self.notes: list[str] = []
        self.captures: dict[str, dict[str, Any]] = {}  # operationId -> captures of its step

    # -- schemas --------------------------------------------------------------------------

    def resolve(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 32:
            target: Any = self.document
            for part in schema["$ref"].lstrip("#/").split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                target = target.get(key, {}) if isinstance(target, dict) else {}
            schema, depth = target, depth + 1
        return schema if isinstance(schema, dict) else {}

    def properties(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        resolved = self.resolve(schema)
        found = dict(resolved.get("properties") or {})
        if depth < 8:
            for part in resolved.get("allOf") or []:
                found.update(self.properties(part, depth + 1))
        return found

    def types(self, schema: Any, depth: int = 0) -> set[str]:
        """The types `schema` declares, explicitly (`type`, or a part of its `allOf`): a
        schema with only `properties` accepts an array too, so it declares no type."""
        resolved = self.resolve(schema)
        declared = resolved.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return {t for t in declared if isinstance(t, str)} - {"null"}
        if depth < 8:
            for part in resolved.get("allOf") or []:
                found = self.types(part, depth + 1)
                if found:
                    return found
        return set()

    def value(self, op: Operation, param: Parameter) -> Any:
        key = f"plan:{op.operation_id}:{param.location}:{param.name}"
        return self.faker.generate(param.schema, key=key, field_name=param.name, for_response=False)

    # -- what an operation answers ----------------------------------------------------------

    def success(self, op: Operation) -> list[int | str] | None:
        codes = sorted(int(s) for s in op.responses if s.isdigit() and s.startswith("2"))
        if codes:
            return list(codes)
        if any(s.upper() == "2XX" for s in op.responses) or "default" in op.responses:
            return ["2XX"]
        return None

    def json_schema(self, op: Operation, status: int | str) -> Any:
        response = op.responses.get(str(status))
        if response is None:
            return None
        media = next((m for k, m in response.content.items() if _is_json(k)), None)
        return media.schema if media is not None else None

    # -- ids for item operations ------------------------------------------------------------

    def sources(self, operations: list[Operation]) -> dict[str, _Source]:
        """For each item operation, the step whose response gives its last path parameter."""
        found: dict[str, _Source] = {}
        for op in operations:
            params = [p for p in op.parameters if p.location == "path"]
            segments = op.path.rstrip("/").split("/")
            if not params or segments[-1] != "{" + params[-1].name + "}":
                continue
            param = params[-1]
            collection = "/".join(segments[:-1]) or "/"
            names = _id_names(param.name)
            source = self._creator(operations, collection, names) or self._lister(
                operations, collection, names, op, param
            )
            if source is not None:
                found[op.operation_id] = source
        return found

    def _creator(self, operations: list[Operation], path: str, names: list[str]) -> _Source | None:
        for creator in operations:
            if creator.method.upper() != "POST" or creator.path != path:
                continue
            codes = [c for c in self.success(creator) or [] if isinstance(c, int)]
            for code in codes:
                props = self.properties(self.json_schema(creator, code))
                prop = next((n for n in names if n in props), None)
                if prop is not None:
                    variable = f"{creator.operation_id}.{prop}"
                    self.captures.setdefault(creator.operation_id, {})[variable] = f"$.{prop}"
                    return _Source(variable, {})
        return None

    def _lister(
        self,
        operations: list[Operation],
        path: str,
        names: list[str],
        op: Operation,
        param: Parameter,
    ) -> _Source | None:
        for lister in operations:
            if lister.method.upper() != "GET" or lister.path != path:
                continue
            codes = [c for c in self.success(lister) or [] if isinstance(c, int)]
            for code in codes:
                schema = self.resolve(self.json_schema(lister, code))
                if "array" not in self.types(schema):
                    continue
                prop = next((n for n in names if n in self.properties(schema.get("items"))), None)
                if prop is None:
                    continue
                variable = f"{lister.operation_id}.{prop}"
                fallback = self.value(op, param)
                self.captures.setdefault(lister.operation_id, {})[variable] = {
                    "jsonpath": f"$[0].{prop}",
                    "default": fallback,
                }
                return _Source(variable, {})
        return None

    # -- steps ------------------------------------------------------------------------------

    def request(self, op: Operation, source: _Source | None) -> dict[str, Any]:
        path_params: dict[str, Any] = {}
        params: dict[str, Any] = {}
        headers: dict[str, str] = {}
        cookies: list[str] = []
        last_path = [p for p in op.parameters if p.location == "path"][-1:]
        for param in op.parameters:
            if param.location == "path":
                use_source = source is not None and param is last_path[0]
                path_params[param.name] = (
                    f"${{{source.variable}}}" if use_source and source else self.value(op, param)
                )
            elif not param.required:
                continue
            elif param.location == "query":
                params[param.name] = self.value(op, param)
            elif param.location == "header":
                if param.name.lower() not in _TRANSPORT_HEADERS:
                    headers[param.name] = _text(self.value(op, param))
            else:
                cookies.append(f"{param.name}={_text(self.value(op, param))}")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        request: dict[str, Any] = {"path_params": path_params, "params": params}
        self._credentials(op, headers, params)
        request["headers"] = headers
        found = self.json_body(op)
        if found is not None:
            media, schema = found
            request["body"] = self.faker.generate(
                schema, key=f"plan:{op.operation_id}:body", for_response=False
            )
            if media != "application/json":
                request["content_type"] = media
        return request

    def json_body(self, op: Operation) -> tuple[str, Any] | None:
        """The JSON media type of the request body (application/json first) and its schema."""
        body = op.request_body
        if body is None:
            return None
        media = [k for k, m in body.content.items() if _is_json(k) and m.schema is not None]
        if not media:
            return None
        chosen = "application/json" if "application/json" in media else media[0]
        return chosen, body.content[chosen].schema

    def requires_auth(self, op: Operation) -> bool:
        return requires_auth(op)

    def _credentials(self, op: Operation, headers: dict[str, str], params: dict) -> None:
        if not self.traits.credentials:
            return
        found = placeholder_credentials(self.spec, op, self.traits.provided_headers)
        params.update(found.params)
        if found.cookies:
            headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), *found.cookies]))
        headers.update(found.headers)

    def happy(self, op: Operation, source: _Source | None) -> dict[str, Any] | None:
        expected = self.success(op)
        if expected is None:
            self.notes.append(f"{op.operation_id}: documents no 2xx response; no happy path")
            return None
        step: dict[str, Any] = {
            "name": op.operation_id,
            "operation": op.operation_id,
            "kind": "happy_path",
            "description": f"{op.method.upper()} {op.path} with generated valid input",
            "request": _compact(self.request(op, source)),
            "expect": {"status": expected[0] if len(expected) == 1 else expected},
        }
        if op.operation_id in self.captures:
            step["capture"] = self.captures[op.operation_id]
        return step

    def negatives(self, op: Operation) -> list[dict[str, Any]]:
        base = self.request(op, None)
        steps: list[dict[str, Any]] = []

        def add(what: str, request: dict[str, Any]) -> None:
            steps.append(
                {
                    "name": f"{op.operation_id}: {what}",
                    "operation": op.operation_id,
                    "kind": "negative",
                    "description": f"{what}: the server must refuse it with a 4xx status",
                    "request": _compact(request),
                    "expect": {"status": "4XX", "conforms_to_schema": False},
                }
            )

        if self.traits.enforces_auth and self.requires_auth(op):
            request = _copy(base)
            for name in self._credential_headers(op):
                request["headers"][name] = ""
            for name in self._credential_params(op):
                request["params"].pop(name, None)
            add("missing credentials", request)
        if not self.traits.validates:
            return steps
        # A query discriminator (`/#Action=X`) routes the request: it is always sent.
        routing = {name for name, _ in split_template(op.path)[1]}
        required = [
            p
            for p in op.parameters
            if p.required
            and p.location in ("query", "header")
            and p.name.lower() not in _TRANSPORT_HEADERS
            and not (p.location == "query" and p.name in routing)
        ]
        if required:
            param = required[0]
            request = _copy(base)
            if param.location == "query":
                request["params"].pop(param.name, None)
            else:
                request["headers"].pop(param.name, None)
            add(f"missing required {param.location} parameter {param.name}", request)
        for location in ("path", "query"):
            for param in (p for p in op.parameters if p.location == location):
                wrong = self._wrong_value(param)
                if wrong is None:
                    continue
                request = _copy(base)
                request["path_params" if location == "path" else "params"][param.name] = wrong
                add(f"{location} parameter {param.name} of the wrong type", request)
                break
        body = op.request_body
        found = self.json_body(op)
        if body is not None and found is not None:
            kinds = self.types(found[1])
            wrong_body: Any = None
            if kinds == {"object"}:
                wrong_body = ["not", "an", "object"]
            elif kinds == {"array"}:
                wrong_body = {"not": "an array"}
            if wrong_body is not None:
                request = _copy(base)
                request["body"] = wrong_body
                add("body of the wrong type", request)
            if body.required:
                request = _copy(base)
                request.pop("body", None)
                add("missing required body", request)
        return steps

    def _credential_headers(self, op: Operation) -> list[str]:
        names = []
        for name in op.security[0] if op.security else {}:
            scheme = self.spec.security_schemes.get(name)
            if scheme is None:
                continue
            if scheme.type == "apiKey" and scheme.location == "cookie":
                names.append("Cookie")
            elif scheme.type == "apiKey" and scheme.location != "query" and scheme.param_name:
                names.append(scheme.param_name)
            elif scheme.type != "apiKey":
                names.append("Authorization")
        return names

    def _credential_params(self, op: Operation) -> list[str]:
        return [
            scheme.param_name
            for name in (op.security[0] if op.security else {})
            if (scheme := self.spec.security_schemes.get(name)) is not None
            and scheme.type == "apiKey"
            and scheme.location == "query"
            and scheme.param_name
        ]

    def _wrong_value(self, param: Parameter) -> str | None:
        schema = self.resolve(param.schema)
        kinds = self.types(schema)
        if kinds & {"integer", "number"} and "string" not in kinds:
            return "not-a-number"
        if kinds == {"boolean"}:
            return "not-a-boolean"
        if kinds == {"string"} and isinstance(schema.get("enum"), list):
            return "not-one-of-the-enum"
        if kinds == {"string"} and schema.get("format") == "uuid":
            return "not-a-uuid"
        return None


def _id_names(param: str) -> list[str]:
    names = [param]
    lower = param.lower()
    for suffix in ("_id", "id"):
        if lower.endswith(suffix) and len(param) > len(suffix):
            names.append("id")
            break
    if "id" not in names:
        names.append("id")
    return names


def _copy(request: dict[str, Any]) -> dict[str, Any]:
    return {
        key: dict(value) if isinstance(value, dict) else value for key, value in request.items()
    }


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _compact(request: dict[str, Any]) -> dict[str, Any]:
    """The request without empty parameter maps (a plan reads better without them)."""
    return {k: v for k, v in request.items() if not (isinstance(v, dict) and not v)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def select_operations(spec: ApiSpec, wanted: list[str] | None) -> list[Operation]:
    """The operations to cover: all, or those named (ConfigError naming an unknown one)."""
    if not wanted:
        return list(spec.operations)
    chosen: list[Operation] = []
    for index, name in enumerate(wanted):
        method, _, path = name.strip().partition(" ")
        op = next(
            (
                o
                for o in spec.operations
                if o.operation_id == name or (o.method.upper() == method.upper() and o.path == path)
            ),
            None,
        )
        if op is None:
            names = [o.operation_id for o in spec.operations]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else f"known: {names}"
            raise ConfigError(
                f"operations[{index}]: {name!r} is not an operation of the description; {hint}"
            )
        if op not in chosen:
            chosen.append(op)
    return chosen


def generate_plan(
    spec: ApiSpec,
    *,
    focus: TestFocus = "comprehensive",
    traits: TargetTraits | None = None,
    operations: list[str] | None = None,
    seed: int = 0,
) -> tuple[TestPlan, list[str]]:
    """A plan covering the description's operations, and notes on what was left out."""
    if focus not in FOCUSES:
        raise ConfigError(f"test_focus={focus!r} is not one of {', '.join(FOCUSES)}")
    traits = traits or TargetTraits()
    generator = _Generator(spec, traits, seed)
    chosen = select_operations(spec, operations)
    usable: list[Operation] = []
    for op in chosen:
        body = op.request_body
        if body is not None and body.required and generator.json_body(op) is None:
            generator.notes.append(f"{op.operation_id}: needs a non-JSON body; left out")
            continue
        usable.append(op)
    ordered = sorted(
        usable,
        key=lambda op: (
            _RANK.get(op.method.upper(), 3),
            sum(1 for p in op.parameters if p.location == "path"),
            chosen.index(op),
        ),
    )
    happy = focus in ("happy_path", "comprehensive")
    negative = focus in ("negative", "comprehensive")
    sources = generator.sources(ordered) if happy else {}
    steps: list[dict[str, Any]] = []
    for op in ordered:
        if happy:
            step = generator.happy(op, sources.get(op.operation_id))
            if step is not None:
                steps.append(step)
        if negative:
            steps.extend(generator.negatives(op))
    if negative and not traits.validates:
        generator.notes.append(
            "the server is not known to validate requests: negative parameter and body steps "
            "were left out (pass server_validates=True to include them)"
        )
    if negative and not traits.enforces_auth:
        generator.notes.append(
            "the server does not enforce credentials: no missing-credential steps"
        )
    if happy and traits.credentials and any(generator.requires_auth(op) for op in ordered):
        generator.notes.append(
            "operations that require credentials send placeholder ones (a MockLoop mock checks "
            "only their form); for a live API pass real ones in headers="
        )
    if not steps:
        raise ConfigError(
            f"the description {spec.title!r} gives no operation a {focus} plan can test"
            + (f" ({'; '.join(generator.notes)})" if generator.notes else "")
        )
    plan = TestPlan.model_validate(
        {
            "name": f"{spec.title}: generated {focus} plan",
            "description": f"Generated from {spec.source} ({len(ordered)} operation(s)).",
            "steps": [PlanStep.model_validate(step) for step in steps],
        }
    )
    return plan, generator.notes
