"""`load_spec`: any description, from anywhere, into one `ApiSpec`.

Every description is read within bounds (`SpecLimits`: size per document, nesting depth,
alias expansion, time per fetch), its URLs under a `FetchPolicy`, its local `$ref`s inside one
root folder. Whatever goes wrong comes out as one `SpecError` on one line: a stranger's
description can be refused, never answered with a traceback.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from mockloop.errors import MockLoopError, SpecError
from mockloop.spec.fetch import FetchPolicy
from mockloop.spec.limits import DEFAULT_MAX_SPEC_BYTES, SpecLimits, check_shape, size_text
from mockloop.spec.model import ApiSpec
from mockloop.spec.operations import (
    OperationBuilder,
    example_warnings,
    render_paths,
    security_schemes,
)
from mockloop.spec.patterns import pattern_warnings
from mockloop.spec.refs import (
    URI_SCHEME,
    Documents,
    default_refs_root,
    is_url,
    parse_text,
    read_location,
)
from mockloop.spec.schemas import SchemaBundler
from mockloop.spec.swagger2 import convert_swagger2
from mockloop.spec.validation import SchemaValidator

__all__ = ["load_spec"]

logger = logging.getLogger("mockloop.spec")

_KEY_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$-]{0,39}$")
_SUPPORTED = "Swagger 2.0, OpenAPI 3.0.x, 3.1.x and 3.2.x"


def _copy(document: dict[str, Any]) -> Any:
    """A private copy of a caller's dict: a JSON round trip, much faster than deepcopy.

    The round trip also turns keys like `200` into "200" and dates into ISO strings, as the
    YAML reader does. Anything JSON cannot carry falls back to a deep copy.
    """
    try:
        return orjson.loads(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(document)


def _read_source(
    source: str | os.PathLike[str] | dict[str, Any],
    limits: SpecLimits,
    policy: FetchPolicy,
) -> tuple[Any, str]:
    if isinstance(source, dict):
        check_shape(source, limits, "<dict>")
        return _copy(source), "<dict>"
    if isinstance(source, os.PathLike):
        location = str(Path(source).expanduser().resolve())
        return read_location(location, limits=limits, policy=policy), location
    if not isinstance(source, str):
        raise SpecError(
            f"a description is a path, a URL, a dict or YAML/JSON text, not {type(source).__name__}"
        )
    if is_url(source):
        return read_location(source, limits=limits, policy=policy), source
    if "\n" in source or source.lstrip().startswith(("{", "[", "openapi:", "swagger:")):
        if len(source) > limits.max_bytes:
            raise SpecError(
                f"the text is larger than {size_text(limits.max_bytes)}, the limit on one "
                "description document (max_spec_bytes)",
                source="<string>",
            )
        return parse_text(source, "<string>", limits), "<string>"
    scheme = URI_SCHEME.match(source)
    if scheme and scheme.group(1).lower() == "file":
        source = unquote(urlsplit(source).path)
    location = str(Path(source).expanduser().resolve())
    if not os.path.lexists(location) and scheme and scheme.group(1).lower() != "file":
        raise SpecError(
            f"{scheme.group(1)}: URLs are not read: give a path, an http(s) URL, a dict or "
            "YAML/JSON text",
            source=_one_line(source)[:500],
        )
    if not os.path.lexists(location):
        raise SpecError(
            f"file not found: {source} (give a path, an http(s) URL, a dict or YAML/JSON text)",
            source=source,
        )
    return read_location(location, limits=limits, policy=policy), location


def _dialect(doc: dict[str, Any], source: str) -> str:
    if "swagger" in doc:
        if str(doc["swagger"]) != "2.0":
            raise SpecError(
                f"unsupported version swagger: {doc['swagger']!r}; MockLoop reads {_SUPPORTED}",
                source=source,
                pointer="/swagger",
            )
        return "2.0"
    if "openapi" in doc:
        version = str(doc["openapi"])
        if re.match(r"3\.0(\.|$)", version):
            return "3.0"
        if re.match(r"3\.[12](\.|$)", version):
            return "3.1"
        raise SpecError(
            f"unsupported version openapi: {version!r}; MockLoop reads {_SUPPORTED}",
            source=source,
            pointer="/openapi",
        )
    if "swaggerVersion" in doc:  # Swagger 1.x resource listings
        raise SpecError(
            f"unsupported version swaggerVersion: {doc['swaggerVersion']!r}; MockLoop reads "
            f"{_SUPPORTED} (convert Swagger 1.x with swagger2openapi or the Swagger editor)",
            source=source,
            pointer="/swaggerVersion",
        )
    # Only names are echoed: a file given by mistake (or by a stranger) may hold secrets in
    # its keys, and this message travels to logs and agents.
    names = [str(k) for k in list(doc)[:8]]
    keys = ", ".join(k if _KEY_NAME.match(k) else "..." for k in names) or "none"
    raise SpecError(
        "not an OpenAPI description: no 'openapi' or 'swagger' field at the top level "
        f"(top-level keys: {keys}); MockLoop reads {_SUPPORTED}",
        source=source,
    )


def _server_urls(doc: dict[str, Any]) -> list[str]:
    urls = []
    for server in doc.get("servers") or []:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        variables = server.get("variables") or {}

        def substitute(match: re.Match[str], variables: dict[str, Any] = variables) -> str:
            variable = variables.get(match.group(1))
            if isinstance(variable, dict) and "default" in variable:
                return str(variable["default"])
            return match.group(0)

        urls.append(re.sub(r"\{([^{}]+)\}", substitute, url))
    return urls


def _base_path(url: str | None) -> str:
    if not url:
        return ""
    path = urlsplit(url).path if ("://" in url or url.startswith("//")) else url.split("?", 1)[0]
    if "{" in path or not path.startswith("/"):
        return ""
    return path.rstrip("/")


def load_spec(
    source: str | os.PathLike[str] | dict[str, Any],
    *,
    timeout: float = 10.0,
    check_examples: bool = False,
    max_bytes: int = DEFAULT_MAX_SPEC_BYTES,
    allow_fetch: list[str] | tuple[str, ...] = (),
    refs_root: str | os.PathLike[str] | None = None,
    widen_refs_root_to_cwd: bool = False,
) -> ApiSpec:
    """Load and normalise an OpenAPI description, within bounds.

    Args:
        source: a file path, an http(s) URL, a parsed dict, or YAML/JSON text.
        timeout: seconds allowed for each URL fetched (the description and its `$ref`s),
            redirects included.
        check_examples: also validate every documented example against its schema and add a
            warning for each that does not match (costs about 1 s per 10 MB description, so
            it is off when a mock starts; `mockloop validate`-style checks turn it on).
        max_bytes: the largest document read (each file or URL of the description).
        allow_fetch: host names, addresses or CIDRs in private ranges that the description's
            URLs may reach (loopback always may; link-local and cloud metadata never).
        refs_root: the folder local `$ref`s must stay inside; default: the description's own
            folder (see `widen_refs_root_to_cwd`).
        widen_refs_root_to_cwd: without `refs_root`, widen the root to the current directory
            when the description lies inside it (what `mockloop serve` does for a person at
            a shell; off for descriptions that arrive from agents).

    Raises:
        SpecError: naming the file, the JSON pointer and the problem (on one line) when the
            description cannot be read, parsed, resolved or understood, or exceeds a limit.
        ConfigError: `allow_fetch` holds something that is no host or network, or `refs_root`
            is not a folder.
    """
    limits = SpecLimits(max_bytes=max_bytes, timeout=timeout)
    policy = FetchPolicy(allow_fetch)
    where = _label(source)
    try:
        return _load(source, limits, policy, refs_root, widen_refs_root_to_cwd, check_examples)
    except SpecError as exc:
        problem, origin = _one_line(exc.problem), _one_line(exc.source)
        if (problem, origin) == (exc.problem, exc.source):
            raise
        raise SpecError(problem, source=origin, pointer=_one_line(exc.pointer)) from None
    except MockLoopError:
        raise
    except RecursionError:
        raise SpecError(
            "nested too deeply to process (schemas or $refs within one another): simplify it",
            source=where,
        ) from None
    except MemoryError:
        raise SpecError("too large to load in memory", source=where) from None
    except Exception as exc:
        # A stage met input it did not expect: the description is refused on one line; the
        # traceback is kept for whoever turns on debug logging.
        logger.debug("loading %s failed", where, exc_info=True)
        raise SpecError(
            "cannot be read as an OpenAPI description "
            f"({type(exc).__name__}: {_one_line(str(exc))[:300]})",
            source=where,
        ) from None


def _label(source: object) -> str:
    """How a source is named in an error: its path or URL, or <dict>/<string>."""
    if isinstance(source, dict):
        return "<dict>"
    if isinstance(source, os.PathLike):
        return _one_line(os.fspath(source))
    if isinstance(source, str):
        text = source.strip()
        if "\n" in text or text.startswith(("{", "[", "openapi:", "swagger:")):
            return "<string>"
        return _one_line(text)[:500]
    return "<description>"


def _one_line(text: object) -> str:
    """`text` on one line: line breaks become spaces, other control characters escapes."""
    flat = re.sub(r"\s*[\r\n]+\s*", " ", str(text))
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", flat)


def _load(
    source: str | os.PathLike[str] | dict[str, Any],
    limits: SpecLimits,
    policy: FetchPolicy,
    refs_root: str | os.PathLike[str] | None,
    widen: bool,
    check_examples: bool,
) -> ApiSpec:
    root, location = _read_source(source, limits, policy)
    if not isinstance(root, dict):
        raise SpecError(
            f"not an OpenAPI description: the document is a {type(root).__name__}, not a mapping",
            source=location,
        )
    dialect = _dialect(root, location)
    warnings: list[str] = []
    documents = Documents(
        location,
        root,
        limits=limits,
        policy=policy,
        refs_root=default_refs_root(location, refs_root, widen_to_cwd=widen),
    )
    doc = root
    if dialect == "2.0":
        doc = convert_swagger2(root, documents, warnings)
        documents.replace_root(doc)
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        # Valid (OpenAPI 3.1 with only webhooks, or an empty paths): the mock serves /health,
        # /docs and 404s; the warning says why nothing routes.
        why = "paths is empty" if isinstance(paths, dict) else "there is no paths object"
        warnings.append(f"#/paths: describes no operations ({why}); every request answers 404")
    bundler = SchemaBundler(
        documents,
        dialect="3.1" if dialect == "3.1" else "3.0",
        warnings=warnings,
        root_prefixes=("/components/schemas/", "/definitions/")
        if dialect == "2.0"
        else ("/components/schemas/",),
    )
    raw_components = doc.get("components")
    components: dict[str, Any] = raw_components if isinstance(raw_components, dict) else {}
    bundler.add_root_components(components.get("schemas"))
    operations = OperationBuilder(documents, bundler, doc, warnings).build()
    if not operations and isinstance(paths, dict) and paths:
        warnings.append(
            "#/paths: describes no operations (no path has a GET, POST, ... operation); "
            "every request answers 404"
        )
    raw_schemes = components.get("securitySchemes") or {}
    resolved_schemes = {}
    for name, scheme in raw_schemes.items() if isinstance(raw_schemes, dict) else []:
        if isinstance(scheme, dict) and "$ref" in scheme:
            scheme, _, _ = documents.resolve(
                scheme["$ref"], location, f"/components/securitySchemes/{name}/$ref"
            )
        resolved_schemes[name] = scheme
    schemes = security_schemes(resolved_schemes, warnings)
    for op in operations:
        for requirement in op.security:
            for name in requirement:
                if name not in schemes:
                    warnings.append(f"#{op.pointer}/security: unknown security scheme {name!r}")
    warnings.extend(bundler.format_warnings())
    raw_info = doc.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    servers = _server_urls(doc)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": str(info.get("title") or "Untitled API"),
            "version": str(info.get("version") or "0"),
            **({"description": str(info["description"])} if info.get("description") else {}),
        },
        "servers": [{"url": url} for url in servers],
        "paths": render_paths(operations),
        "components": {"schemas": bundler.components, "securitySchemes": resolved_schemes},
    }
    if isinstance(doc.get("tags"), list):
        document["tags"] = [t for t in doc["tags"] if isinstance(t, dict) and "name" in t]
    if "security" in doc:
        document["security"] = doc["security"]
    if check_examples:
        example_warnings(operations, SchemaValidator(document), warnings)
    warnings.extend(pattern_warnings(document))
    return ApiSpec(
        title=document["info"]["title"],
        version=document["info"]["version"],
        source_version=str(root.get("swagger") or root.get("openapi")),
        source=location,
        document=document,
        operations=operations,
        servers=servers,
        base_path=_base_path(servers[0] if servers else None),
        security_schemes=schemes,
        # Every warning names its file: pointers into the root come without one.
        warnings=[location + w if w.startswith("#") else w for w in warnings],
    )
