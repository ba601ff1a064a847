"""Serve real-world descriptions and check that the mock's answers conform to them.

For every description (by default each file in /work/shared/specs/real-world/ and our own
small cases in tests/fixtures/specs/conformance/, or the paths given) a mock is started
in-process (auth simulation on, request validation `enforce`, free
ports), then checked twice:

1. Our own check: every documented GET operation is called once with a request built from
   the description: path parameters, required query/header/cookie parameters generated from
   their schemas (`SchemaFaker(..., for_response=False)`) and serialised by their `style`,
   the query discriminator of templates like `/#Action=X`, and credentials for the
   operation's security requirement (bearer token, API key in its place, basic). The answer
   must come, must not be a 5xx, must not refuse this valid request (a 4xx where the
   operation documents a success), must have a documented status (or one covered by
   `NXX`/`default`) and a documented media type, and its body must validate against the
   schema documented for that status and media type (XML bodies must be well formed).
2. The independent check: schemathesis 4 runs against the same mock with only the
   `not_a_server_error` and `response_schema_conformance` checks, GET operations only,
   positive data, a few examples per operation, the description file itself as the schema
   and the mock's URL plus the description's base path as the base URL.

It prints one line per description, then every failure, and totals. Exit status 1 when
anything failed (2 on bad usage).

Our own cases are small descriptions of what real ones taught us (path keys that carry a
query, a description without operations, overlapping templates, overlapping `oneOf` branches);
`--no-own` leaves them out (the real-world corpus alone), `--own` checks only them.

Run: python scripts/conformance.py [SPEC ...] [--own | --no-own] [--only NAME]
     [--max-examples 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import logging
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python scripts/conformance.py`: make `scripts` importable
    sys.path.insert(0, str(ROOT))

from scripts import schemathesis_run  # noqa: E402

REAL_WORLD = ROOT.parent / "shared" / "specs" / "real-world"
OWN_CASES = ROOT / "tests" / "fixtures" / "specs" / "conformance"
AUTH_TOKEN = "conformance-token"
API_KEY = "conformance-key"
BASIC = ("conformance-user", "conformance-password")

__all__ = [
    "OWN_CASES",
    "REAL_WORLD",
    "DescriptionReport",
    "Failure",
    "SchemathesisReport",
    "check_description",
    "main",
]


@dataclass
class Failure:
    """One thing that did not conform."""

    operation: str
    request: str
    check: str
    error: str
    status: int | None = None


@dataclass
class SchemathesisReport:
    """What schemathesis found against one mock."""

    verdict: str = "not run"  # passed, failed, errors, timeout, crashed, not run
    exit_code: int | None = None
    operations_selected: int = 0
    operations_tested: int = 0
    cases: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)
    output_tail: str = ""


@dataclass
class DescriptionReport:
    """Both checks of one description."""

    name: str
    path: str
    title: str = ""
    get_operations: int = 0
    checked: int = 0
    bodies_validated: int = 0
    bodies_not_validated: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None
    schemathesis: SchemathesisReport = field(default_factory=SchemathesisReport)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.failures
            and self.schemathesis.verdict in ("passed", "not run")
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# -- building a valid request ------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _path_value(value: Any, style: str, explode: bool, name: str) -> str:
    """RFC 6570 expansion as OpenAPI's path styles define it; each piece percent-encoded."""
    enc = lambda v: quote(_scalar(v), safe="")  # noqa: E731
    if isinstance(value, list):
        pieces = [enc(v) for v in value]
        if style == "label":
            return "." + ("." if explode else ",").join(pieces)
        if style == "matrix":
            if explode:
                return "".join(f";{name}={p}" for p in pieces)
            return f";{name}=" + ",".join(pieces)
        return ",".join(pieces)
    if isinstance(value, dict):
        if explode:
            pairs = [f"{enc(k)}={enc(v)}" for k, v in value.items()]
        else:
            pairs = [f"{enc(k)},{enc(v)}" for k, v in value.items()]
        if style == "label":
            return "." + ("." if explode else ",").join(pairs)
        if style == "matrix":
            sep = ";" if explode else ","
            return (";" if explode else f";{name}=") + sep.join(pairs)
        return ",".join(pairs)
    if style == "label":
        return "." + enc(value)
    if style == "matrix":
        return f";{name}={enc(value)}"
    return enc(value)


def _query_pairs(name: str, value: Any, style: str, explode: bool) -> list[tuple[str, str]]:
    if isinstance(value, list):
        if style == "form" and explode:
            return [(name, _scalar(v)) for v in value]
        separator = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return [(name, separator.join(_scalar(v) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return [(f"{name}[{k}]", _scalar(v)) for k, v in value.items()]
        if explode:
            return [(str(k), _scalar(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_scalar(v)}" for k, v in value.items()))]
    return [(name, _scalar(value))]


def _header_value(value: Any, explode: bool) -> str:
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        if explode:
            return ",".join(f"{k}={_scalar(v)}" for k, v in value.items())
        return ",".join(f"{k},{_scalar(v)}" for k, v in value.items())
    return _scalar(value)


@dataclass
class BuiltRequest:
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    cookies: dict[str, str]

    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query, quote_via=quote) if self.query else "")

    def describe(self, method: str = "GET") -> str:
        return f"{method} {self.url()}"


def credentials_for(op: Any, schemes: dict[str, Any]) -> tuple[dict, list, dict]:
    """Headers, query pairs and cookies satisfying the first non-anonymous requirement."""
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    cookies: dict[str, str] = {}
    requirement = next((r for r in op.security if r), None)
    if requirement is None:
        return headers, query, cookies
    for name in requirement:
        scheme = schemes.get(name)
        if scheme is None:
            continue
        if scheme.type == "apiKey":
            where, key = scheme.location or "header", scheme.param_name or name
            if where == "query":
                query.append((key, API_KEY))
            elif where == "cookie":
                cookies[key] = API_KEY
            else:
                headers[key] = API_KEY
        elif scheme.type == "http":
            kind = (scheme.scheme or "bearer").lower()
            if kind == "basic":
                token = base64.b64encode(":".join(BASIC).encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            else:
                headers["Authorization"] = f"{kind.capitalize()} {AUTH_TOKEN}"
        elif scheme.type in ("oauth2", "openIdConnect"):
            headers["Authorization"] = f"Bearer {AUTH_TOKEN}"
    return headers, query, cookies


def build_request(op: Any, spec: Any, faker: Any) -> BuiltRequest:
    """A request for `op` that the description says is valid."""
    from mockloop.mock.router import split_template

    template, discriminator = split_template(op.path)
    # Only discriminators with a value fix the parameter; a bare name just says "send it".
    fixed = {name: value for name, value in discriminator if value is not None}
    headers, query, cookies = credentials_for(op, spec.security_schemes)
    path = template
    for param in op.parameters:
        if param.location != "path" and not param.required:
            continue
        if param.location == "query" and param.name in fixed:
            continue  # the discriminator's value is the one that routes
        if param.location == "header" and param.name.lower() in (
            "accept",
            "content-type",
            "authorization",
        ):
            continue
        value = faker.generate(
            param.schema or {"type": "string"},
            key=f"{op.operation_id}|{param.location}|{param.name}",
            field_name=param.name,
            for_response=False,
        )
        if param.location == "path":
            style = param.style or "simple"
            explode = bool(param.explode) if param.explode is not None else False
            expanded = _path_value(value, style, explode, param.name)
            path = path.replace("{" + param.name + "}", expanded)
        elif param.location == "query":
            style = param.style or "form"
            explode = param.explode if param.explode is not None else style == "form"
            query.extend(_query_pairs(param.name, value, style, explode))
        elif param.location == "header":
            headers[param.name] = _header_value(value, bool(param.explode))
        else:
            cookies[param.name] = _scalar(value)
    query.extend((k, v) for k, v in fixed.items() if (k, v) not in query)
    return BuiltRequest(path, query, headers, cookies)


# -- judging an answer -------------------------------------------------------------------------


def _documented_response(op: Any, status: int) -> tuple[str, Any] | None:
    code = str(status)
    for key in (code, f"{code[0]}XX", f"{code[0]}xx", "default"):
        if key in op.responses:
            return key, op.responses[key]
    return None


def _documents_success(op: Any) -> bool:
    return any(k.startswith("2") or k == "default" for k in op.responses)


def _match_media(content_type: str, documented: list[str]) -> str | None:
    sent = content_type.split(";", 1)[0].strip().lower()
    for media in documented:
        base = media.split(";", 1)[0].strip().lower()
        if base == sent:
            return media
    for media in documented:
        base = media.split(";", 1)[0].strip().lower()
        if base == "*/*" or (base.endswith("/*") and sent.startswith(base[:-1])):
            return media
    return None


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base in ("application/json", "text/json") or base.endswith("+json")


def judge(op: Any, response: httpx.Response, validator: Any) -> tuple[list[str], bool]:
    """The problems with one answer (empty when it conforms) and whether a body was validated."""
    status = response.status_code
    if status >= 500:
        return [f"server error {status}: {response.text[:300]}"], False
    found = _documented_response(op, status)
    if status >= 400 and _documents_success(op):
        return [f"refused a valid request with {status}: {response.text[:300]}"], False
    if found is None:
        documented = ", ".join(op.responses) or "none"
        return [f"status {status} is not documented (documented: {documented})"], False
    key, documented = found
    if not documented.content:
        return [], False
    content_type = response.headers.get("content-type", "")
    if not response.content:
        if status in (204, 304):
            return [], False
        return [f"empty body, but {key} documents {', '.join(documented.content)}"], False
    media = _match_media(content_type, list(documented.content))
    if media is None:
        return [
            f"content type {content_type or 'none'!r} is not documented for {key} "
            f"(documented: {', '.join(documented.content)})"
        ], False
    schema = documented.content[media].schema
    base = content_type.split(";", 1)[0].strip().lower()
    if _is_json(base) or (base == "" and _is_json(media)):
        try:
            body = response.json()
        except ValueError as exc:
            return [f"body is not valid JSON ({exc}): {response.text[:200]}"], False
        if schema is None:
            return [], False
        # "response": a server need not return writeOnly properties, even required ones.
        errors = validator.errors(schema, body, direction="response")
        if errors:
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            return [f"body does not match the {key} {media} schema: {errors[0]}{more}"], True
        # A schema jsonschema cannot compile validates nothing: not counted as validated.
        return [], id(schema) not in validator.broken
    if base.endswith("/xml") or base.endswith("+xml"):
        try:
            ElementTree.fromstring(response.content)
        except ElementTree.ParseError as exc:
            return [f"XML body is not well formed: {exc}"], False
        return [], False
    if base.startswith("text/") and schema is not None:
        # Plain text is the string the schema describes (`type: string`, a pattern...).
        errors = validator.errors(schema, response.text, direction="response")
        if errors:
            return [f"text body does not match the {key} {media} schema: {errors[0]}"], True
        return [], id(schema) not in validator.broken
    return [], False


def own_check(report: DescriptionReport, spec: Any, base_url: str, deadline: float) -> None:
    from mockloop.fake import SchemaFaker
    from mockloop.spec.validation import SchemaValidator

    faker = SchemaFaker(spec.document)
    validator = SchemaValidator(spec.document)
    statuses: Counter[str] = Counter()
    gets = [op for op in spec.operations if op.method.upper() == "GET"]
    report.get_operations = len(gets)
    with httpx.Client(base_url=base_url, timeout=20) as client:
        for op in gets:
            if time.monotonic() > deadline:
                report.failures.append(
                    Failure(op.operation_id, "", "timeout", "the per-description time ran out")
                )
                break
            try:
                built = build_request(op, spec, faker)
            except Exception as exc:
                report.failures.append(
                    Failure(
                        op.operation_id,
                        f"GET {op.path}",
                        "request",
                        f"cannot build a request: {exc!r}",
                    )
                )
                continue
            shown = built.describe()
            try:
                client.cookies.clear()
                headers = dict(built.headers)
                if built.cookies:  # as a header: httpx deprecates per-request cookies
                    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in built.cookies.items())
                response = client.get(built.url(), headers=headers)
            except httpx.HTTPError as exc:
                report.failures.append(Failure(op.operation_id, shown, "transport", repr(exc)))
                continue
            report.checked += 1
            statuses[str(response.status_code)] += 1
            problems, validated = judge(op, response, validator)
            if validated:
                report.bodies_validated += 1
            elif response.status_code < 400 and response.content:
                report.bodies_not_validated += 1
            for problem in problems:
                report.failures.append(
                    Failure(op.operation_id, shown, "own", problem, response.status_code)
                )
    report.statuses = dict(sorted(statuses.items()))


# -- schemathesis ------------------------------------------------------------------------------


def schemathesis_credentials(spec: Any) -> tuple[dict[str, str], dict[str, str]]:
    """One set of credentials for the whole run, the most common per name: headers (cookies
    folded into a Cookie header) and query parameters (API keys sent in the query)."""
    headers: dict[str, Counter[str]] = {}
    query: dict[str, Counter[str]] = {}
    for op in spec.operations:
        if op.method.upper() != "GET":
            continue
        op_headers, op_query, cookies = credentials_for(op, spec.security_schemes)
        if cookies:
            op_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        for name, value in op_headers.items():
            headers.setdefault(name, Counter())[value] += 1
        for name, value in op_query:
            query.setdefault(name, Counter())[value] += 1

    def pick(seen: dict[str, Counter[str]]) -> dict[str, str]:
        return {name: values.most_common(1)[0][0] for name, values in seen.items()}

    return pick(headers), pick(query)


def run_schemathesis(
    spec_path: Path,
    base_url: str,
    headers: dict[str, str],
    *,
    query: dict[str, str] | None = None,
    max_examples: int,
    timeout_s: float,
    workdir: Path,
    mode: str = "positive",
) -> SchemathesisReport:
    """Run schemathesis' server-error and schema-conformance checks on the GET operations of
    `spec_path` served at `base_url`, with these credentials, and judge the run."""
    # Query credentials cannot be given on the command line: a config file fixes them (else
    # schemathesis generates them, empty ones included, and gets 401s).
    config = workdir / "schemathesis.toml"
    lines = ["[parameters]"] + [
        f"{json.dumps('query.' + k)} = {json.dumps(v)}" for k, v in (query or {}).items()
    ]
    config.write_text("\n".join(lines) + "\n")
    extra = ["--include-method", "GET"]
    for name, value in headers.items():
        extra += ["--header", f"{name}: {value}"]
    run = schemathesis_run.run_schemathesis(
        spec_path,
        base_url,
        workdir,
        checks="not_a_server_error,response_schema_conformance",
        mode=mode,
        max_examples=max_examples,
        timeout_s=timeout_s,
        request_timeout=20,
        options=["--config-file", str(config)],
        extra=extra,
    )
    report = _judge_run(run)
    if run.exit_code is None:
        report.verdict = "timeout"
    elif report.failures:
        report.verdict = "failed"
    elif report.errors:
        report.verdict = "errors"
    elif run.exit_code != 0:
        report.verdict = "crashed"
        report.errors.append(f"exit code {run.exit_code}: {report.output_tail[-500:]}")
    else:
        report.verdict = "passed"
    return report


def _judge_run(run: schemathesis_run.SchemathesisRun) -> SchemathesisReport:
    """The figures of a run: statuses and cases of the answers, operations tested, and each
    distinct failed check (per operation, check and failure title) once."""
    report = SchemathesisReport(
        exit_code=run.exit_code,
        operations_selected=run.operations_selected,
        errors=list(run.errors),
        seconds=run.seconds,
        command=run.command,
        output_tail=run.output[-3000:],
    )
    statuses: Counter[str] = Counter()
    tested: set[str] = set()
    seen_failures: set[tuple[str, str, str]] = set()
    for exchange in run.exchanges:
        if exchange.status is not None:
            statuses[str(exchange.status)] += 1
            report.cases += 1
            tested.add(exchange.label)
        for check in exchange.checks:
            key = (exchange.label, check.name, check.title)
            if not check.failed or key in seen_failures:
                continue
            seen_failures.add(key)
            report.failures.append(
                Failure(
                    operation=exchange.label,
                    request=exchange.request,
                    check=check.name,
                    error=f"{check.title}: {' '.join(check.message.split())[:600]}",
                    status=exchange.status,
                )
            )
    report.operations_tested = len(tested)
    report.statuses = dict(sorted(statuses.items()))
    return report


# -- one description ---------------------------------------------------------------------------


def check_description(
    path: Path,
    *,
    max_examples: int = 5,
    timeout_s: float = 120.0,
    schemathesis: bool = True,
    mode: str = "positive",
) -> DescriptionReport:
    """Serve `path` in-process and run both checks against the mock."""
    from mockloop.mock import MockConfig, MockServer

    started = time.monotonic()
    deadline = started + timeout_s
    report = DescriptionReport(name=path.name, path=str(path))
    # schemathesis' probes (a NUL byte in a header, ...) make uvicorn warn on every run.
    logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="mockloop-conformance-") as tmp:
        folder = Path(tmp)
        try:
            config = MockConfig(
                spec=str(path),
                port=0,
                admin_port=None,
                data_dir=folder / "data",
                auth=True,
                validation="enforce",
            )
            server = MockServer(config).start()
        except Exception as exc:
            report.error = f"the mock did not start: {type(exc).__name__}: {exc}"
            report.seconds = time.monotonic() - started
            return report
        try:
            spec = server.runtime.spec
            report.title = spec.title
            own_check(report, spec, server.business_url, deadline)
            # A description without GET operations has nothing for either check to call: it
            # conforms vacuously (schemathesis would exit 2, "no operations matched").
            if schemathesis and report.get_operations:
                remaining = max(10.0, deadline - time.monotonic())
                headers, query = schemathesis_credentials(spec)
                report.schemathesis = run_schemathesis(
                    path,
                    server.business_url + spec.base_path,
                    headers,
                    query=query,
                    max_examples=max_examples,
                    timeout_s=remaining,
                    workdir=folder,
                    mode=mode,
                )
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {exc}"
        finally:
            server.stop()
    report.seconds = time.monotonic() - started
    return report


# -- the command -------------------------------------------------------------------------------


def _worker(path: Path, args: argparse.Namespace) -> DescriptionReport:
    """Check one description in a child process, so a hang or crash costs only that one."""
    with tempfile.TemporaryDirectory(prefix="mockloop-conformance-worker-") as tmp:
        out = Path(tmp) / "report.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            str(path),
            "--json",
            str(out),
            "--max-examples",
            str(args.max_examples),
            "--timeout",
            str(args.timeout),
            "--mode",
            args.mode,
            "--jobs",
            "0",
        ]
        if args.no_schemathesis:
            command.append("--no-schemathesis")
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.timeout + 60, check=False
            )
        except subprocess.TimeoutExpired:
            return DescriptionReport(
                name=path.name,
                path=str(path),
                error=f"did not finish within {args.timeout + 60:.0f} s",
            )
        if not out.exists():
            return DescriptionReport(
                name=path.name,
                path=str(path),
                error=f"the checker crashed ({done.returncode}): {done.stderr[-1500:]}",
            )
        return _report_from_dict(json.loads(out.read_text())["descriptions"][0])


def _report_from_dict(data: dict[str, Any]) -> DescriptionReport:
    data = dict(data)
    data.pop("ok", None)
    st = dict(data.pop("schemathesis"))
    st["failures"] = [Failure(**f) for f in st.get("failures", [])]
    data["failures"] = [Failure(**f) for f in data.get("failures", [])]
    return DescriptionReport(**data, schemathesis=SchemathesisReport(**st))


def _line(report: DescriptionReport) -> str:
    st = report.schemathesis
    st_part = (
        f"schemathesis {st.verdict}: {st.operations_tested}/{st.operations_selected} ops, "
        f"{st.cases} cases, statuses {_statuses(st.statuses)}"
    )
    if report.get_operations == 0 and report.error is None:
        st_part = "schemathesis not run (no GET operation)"
    verdict = "ok  " if report.ok else "FAIL"
    return (
        f"{verdict} {report.name:<62} own: {report.checked}/{report.get_operations} GET, "
        f"{report.bodies_validated} bodies validated, {len(report.failures)} failures, "
        f"statuses {_statuses(report.statuses)} | {st_part} | {report.seconds:.1f} s"
    )


def _statuses(counts: dict[str, int]) -> str:
    return ",".join(f"{k}x{v}" for k, v in counts.items()) or "-"


def _descriptions(folder: Path) -> list[Path]:
    """The description files of `folder`, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".yaml", ".yml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "specs",
        nargs="*",
        type=Path,
        help=f"descriptions to check (default: every file in {REAL_WORLD} and {OWN_CASES})",
    )
    own = parser.add_mutually_exclusive_group()
    own.add_argument(
        "--own", action="store_true", help="check only our own cases (tests/fixtures/...)"
    )
    own.add_argument(
        "--no-own", action="store_true", help="leave our own cases out of the default set"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="check only descriptions whose file name contains NAME (repeatable)",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=5,
        help="schemathesis examples per operation (default 5)",
    )
    parser.add_argument(
        "--timeout", type=float, default=150.0, help="seconds allowed per description (default 150)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="descriptions checked at once, each in its own process "
        "(default 2; 0 = in this process, one at a time)",
    )
    parser.add_argument(
        "--mode",
        choices=["positive", "negative", "all"],
        default="positive",
        help="schemathesis data generation mode (default positive)",
    )
    parser.add_argument("--no-schemathesis", action="store_true", help="run only our own check")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    args = parser.parse_args(argv)

    paths = list(args.specs)
    if not paths:
        if not args.own:
            if not REAL_WORLD.is_dir():
                print(f"no descriptions given and {REAL_WORLD} does not exist", file=sys.stderr)
                return 2
            paths = _descriptions(REAL_WORLD)
        if not args.no_own:
            paths += _descriptions(OWN_CASES)
    if args.only:
        paths = [p for p in paths if any(name in p.name for name in args.only)]
    if not paths:
        print("no description matches", file=sys.stderr)
        return 2
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2

    started = time.monotonic()
    reports: list[DescriptionReport] = []
    if args.jobs <= 0:
        for path in paths:
            report = check_description(
                path,
                max_examples=args.max_examples,
                timeout_s=args.timeout,
                schemathesis=not args.no_schemathesis,
                mode=args.mode,
            )
            reports.append(report)
            if len(paths) > 1:
                print(_line(report), flush=True)
    else:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(_worker, path, args): path for path in paths}
            for future in concurrent.futures.as_completed(futures):
                report = future.result()
                reports.append(report)
                print(_line(report), flush=True)
        order = {str(p): i for i, p in enumerate(paths)}
        reports.sort(key=lambda r: order.get(r.path, 0))
    if len(paths) == 1 and args.jobs <= 0 and not args.json:
        print(_line(reports[0]))

    failed = [r for r in reports if not r.ok]
    if failed:
        print("\nFailures:")
    for report in failed:
        print(f"\n{report.name} ({report.title})")
        if report.error:
            print(f"  error: {report.error}")
        for failure in report.failures:
            print(
                f"  own  {failure.operation}: {failure.request} -> {failure.status}: "
                f"{failure.error}"
            )
        st = report.schemathesis
        for failure in st.failures:
            print(
                f"  schemathesis [{failure.check}] {failure.operation}: {failure.request} -> "
                f"{failure.status}: {failure.error}"
            )
        for error in st.errors:
            print(f"  schemathesis error: {error}")

    totals = {
        "descriptions": len(reports),
        "descriptions_ok": len(reports) - len(failed),
        "get_operations": sum(r.get_operations for r in reports),
        "checked": sum(r.checked for r in reports),
        "bodies_validated": sum(r.bodies_validated for r in reports),
        "own_failures": sum(len(r.failures) for r in reports),
        "errors": sum(1 for r in reports if r.error),
        "schemathesis_passed": sum(1 for r in reports if r.schemathesis.verdict == "passed"),
        "schemathesis_cases": sum(r.schemathesis.cases for r in reports),
        "schemathesis_failures": sum(len(r.schemathesis.failures) for r in reports),
        "schemathesis_not_passed": sum(
            1 for r in reports if r.schemathesis.verdict not in ("passed", "not run")
        ),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(
        f"\nTotal: {totals['descriptions_ok']}/{totals['descriptions']} descriptions conform; "
        f"own check: {totals['checked']}/{totals['get_operations']} GET operations called, "
        f"{totals['bodies_validated']} bodies validated, {totals['own_failures']} failures; "
        f"schemathesis: {totals['schemathesis_passed']} passed, "
        f"{totals['schemathesis_not_passed']} not passed, {totals['schemathesis_cases']} cases, "
        f"{totals['schemathesis_failures']} failures; {totals['errors']} errors; "
        f"{totals['seconds']} s"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"totals": totals, "descriptions": [r.as_dict() for r in reports]}, indent=2)
            + "\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
