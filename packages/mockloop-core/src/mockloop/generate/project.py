"""`generate_project`: write a standalone mock project from a description.

A project is a folder that runs on its own: a thin `main.py` over the MockLoop runtime, the
description, `mockloop.yaml`, `requirements.txt` pinned to this MockLoop, a Dockerfile and a
compose file serving both ports, a `.dockerignore` that lets only those files into the image,
Kubernetes manifests in `k8s/` (generate/kubernetes.py) and a README. Nothing per route is
generated: the runtime serves the description, so regenerating never loses hand edits to
routing code.

The description is loaded within the same bounds as `mockloop serve` (size, depth, alias
expansion, fetch policy, `$ref` root). Upstream proxy credentials never enter an image: a
config that holds them is left out of the build context and mounted by the compose file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import Field

from mockloop.errors import ConfigError, StoreError
from mockloop.generate.config import CONFIG_FILE, render_config
from mockloop.generate.kubernetes import kubernetes_files
from mockloop.generate.templates import (
    COMPOSE,
    COMPOSE_VOLUME,
    COMPOSE_VOLUMES,
    DOCKER_HEALTHCHECK,
    DOCKERFILE,
    MAIN_PY,
    README,
    fill,
)
from mockloop.results import Result
from mockloop.settings import mockloop_home
from mockloop.spec import ApiSpec, load_spec
from mockloop.spec.fetch import FetchPolicy
from mockloop.spec.limits import DEFAULT_MAX_SPEC_BYTES, SpecLimits

__all__ = [
    "MARKER_FILE",
    "GeneratedProject",
    "ProjectAction",
    "generate_project",
    "is_generated_project",
    "projects_dir",
]

MARKER_FILE = ".mockloop-project.json"
"""Written last into every generated project: who made it, from which inputs, which files."""

ProjectAction = Literal["created", "reused", "regenerated", "overwritten"]

logger = logging.getLogger("mockloop.generate")

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PATH_PREFIXES = ("./", "../", ".\\", "..\\", "~")
# A `$ref` whose value does not start with "#": it names another file or a URL. Searching the
# bytes avoids parsing a large description a second time.
_EXTERNAL_REF = re.compile(rb"""["']?\$ref["']?\s*:\s*["']?(?!["'#\s])""")

try:
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


class GeneratedProject(Result):
    """A project written by `generate_project`."""

    name: str = Field(description="the project folder's name")
    path: Path = Field(description="the project folder (absolute)")
    spec_file: Path = Field(description="the copy of the description inside the project")
    config_file: Path = Field(description="mockloop.yaml")
    files: list[str] = Field(description="the files written, relative to path")
    business_port: int
    admin_port: int | None
    features: dict[str, bool] = Field(description="auth, webhooks, admin_ui, storage, stateful")
    title: str = ""
    warnings: list[str] = Field(default_factory=list)
    action: ProjectAction = Field(
        default="created",
        description="created (new folder), reused (MockLoop made it with the same inputs: "
        "nothing rewritten), regenerated (MockLoop made it with other inputs: its generated "
        "files rewritten) or overwritten (overwrite=True)",
    )


def projects_dir() -> Path:
    """Where projects named by a plain name live: `MOCKLOOP_HOME/projects`."""
    return mockloop_home() / "projects"


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")
    return slug or "mock-api"


def _project_folder(output_dir_name: str | None, title: str) -> Path:
    if output_dir_name is None or output_dir_name.strip() == "":
        return projects_dir() / _slug(title)
    name = output_dir_name.strip()
    if Path(name).is_absolute() or name.startswith(_PATH_PREFIXES):
        return Path(name).expanduser().resolve()
    if not _PLAIN_NAME.match(name) or name in (".", ".."):
        raise ConfigError(
            f"output_dir_name={output_dir_name!r}: give a plain name (letters, digits, '.', '_', "
            f"'-'; the project goes to {projects_dir()}/NAME) or a path starting with /, ./ or ../"
        )
    return projects_dir() / name


def _external_refs(node: Any) -> bool:
    """Whether a parsed document refers to another file or URL (so it is not self-contained)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _dump(document: Any, as_json: bool) -> bytes:
    if as_json:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    ).encode()


def _description_copy(
    source: str | os.PathLike[str] | dict[str, Any],
    spec: ApiSpec,
    *,
    max_bytes: int,
    allow_fetch: list[str],
) -> tuple[str, bytes, str]:
    """(file name, bytes, note) of the description to write into the project.

    A self-contained description is kept as given (a file byte for byte); one split over
    several files or URLs becomes the bundled document MockLoop loaded, so the project needs
    nothing outside its folder.
    """
    from mockloop.spec.refs import is_url, read_file, read_location

    if isinstance(source, dict):
        raw: Any = orjson.loads(orjson.dumps(source, option=orjson.OPT_NON_STR_KEYS, default=str))
        if not _external_refs(raw):
            return "openapi.yaml", _dump(raw, as_json=False), ""
    elif isinstance(source, str) and is_url(source):
        raw = read_location(
            source, limits=SpecLimits(max_bytes=max_bytes), policy=FetchPolicy(allow_fetch)
        )
        as_json = source.split("?", 1)[0].lower().endswith(".json")
        if not _external_refs(raw):
            return f"openapi.{'json' if as_json else 'yaml'}", _dump(raw, as_json), ""
    elif isinstance(source, str) and spec.source == "<string>":
        as_json = source.lstrip().startswith("{")
        return f"openapi.{'json' if as_json else 'yaml'}", source.encode(), ""
    else:
        path = Path(spec.source)
        data = read_file(spec.source, max_bytes)
        if not _EXTERNAL_REF.search(data):
            suffix = path.suffix.lower() if path.suffix.lower() in (".json", ".yml") else ".yaml"
            return f"openapi{suffix}", data, ""
    note = (
        f"{spec.source} refers to other files; the project holds the bundled description "
        "MockLoop loaded from them (OpenAPI 3.1, every $ref local)"
    )
    return "openapi.json", _dump(spec.document, as_json=True), note


# The image holds what `main.py` needs and nothing else: everything is ignored, then these
# files are let back in. Credentials, `.env` files, keys, the data folder and the request log
# database (SQLite and its journals) stay out whatever else lands in the folder.
_DOCKERIGNORE = """\
# Only what the image needs enters it (the Dockerfile copies the whole folder): local data,
# the request log database, .env files, keys and other credentials stay out. Add a line
# `!FILE` for each file you add that the mock needs (a scenarios file, say).
*
<<allowed>>
"""
_CONFIG_MOUNT = """\
    volumes:
      # mockloop.yaml holds upstream credentials: mounted at run time, never in the image
      - ./mockloop.yaml:/app/mockloop.yaml:ro
"""


def _dockerignore(spec_name: str, config_in_image: bool) -> str:
    allowed = ["main.py", "requirements.txt", spec_name]
    if config_in_image:
        allowed.insert(1, CONFIG_FILE)
    return fill(_DOCKERIGNORE, allowed="\n".join(f"!{name}" for name in allowed))


def _compose_volume(storage_enabled: bool, credentials: bool) -> str:
    """The `volumes:` block of the compose service: the data volume, the secret config."""
    if not credentials:
        return COMPOSE_VOLUME if storage_enabled else ""
    if not storage_enabled:
        return _CONFIG_MOUNT
    data = COMPOSE_VOLUME.split("\n", 1)[1]  # its entries without the `volumes:` line
    return _CONFIG_MOUNT + data


def _check_port(value: int | None, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{name}={value!r}: a generated project needs a port from 1 to 65535")


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file so a running mock never reads half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _old_spec_file(folder: Path) -> Path | None:
    try:
        values = yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    spec = values.get("spec") if isinstance(values, dict) else None
    if not isinstance(spec, str) or "/" in spec or "\\" in spec:
        return None
    return folder / spec


def _features_text(features: dict[str, bool]) -> str:
    meaning = {
        "auth": "requests need the credentials the description's security schemes ask for",
        "webhooks": "`/api/webhooks` on the admin port registers webhooks fired by requests",
        "admin_ui": "the admin UI at the admin port's `/`",
        "storage": "the request log, scenarios and state are kept in `data_dir`",
        "stateful": "POST creates items, GET lists and fetches them, DELETE removes them",
    }
    return "\n".join(
        f"| `{name}` | {'true' if on else 'false'} | {meaning[name]} |"
        for name, on in features.items()
    )


def _inputs_digest(files: dict[str, bytes]) -> str:
    """One digest of everything a generation writes (description, config, ports, version)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = orjson.loads((folder / MARKER_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if isinstance(marker, dict) and marker.get("generator") == "mockloop":
        return marker
    return None


def _registered_project(folder: Path) -> bool:
    """Whether the registry lists `folder` as a project MockLoop wrote (before markers)."""
    from mockloop.store.registry import Registry

    try:
        return any(row.get("path") == str(folder) for row in Registry().projects())
    except StoreError:
        return False


def is_generated_project(folder: Path) -> bool:
    """Whether `folder` holds a project MockLoop generated (its marker, or the registry)."""
    return _read_marker(folder) is not None or (
        (folder / CONFIG_FILE).is_file() and _registered_project(folder)
    )


def _action(folder: Path, files: dict[str, bytes], digest: str, overwrite: bool) -> ProjectAction:
    """What to do with the project folder; ConfigError when it is not ours to write."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder: choose another output_dir_name")
    if not folder.is_dir() or not any(folder.iterdir()):
        return "created"
    if overwrite:
        return "overwritten"
    marker = _read_marker(folder)
    if marker is not None:
        complete = all((folder / name).is_file() for name in files)
        return "reused" if marker.get("inputs") == digest and complete else "regenerated"
    if (folder / CONFIG_FILE).is_file() and _registered_project(folder):
        return "regenerated"
    raise ConfigError(
        f"{folder} already exists, is not empty and was not made by MockLoop (it has no "
        f"{MARKER_FILE}): pass overwrite=True (--overwrite) to rewrite its generated files, or "
        "choose another output_dir_name"
    )


def generate_project(
    spec_url_or_path: str | os.PathLike[str] | dict[str, Any],
    *,
    output_dir_name: str | None = None,
    auth_enabled: bool = True,
    webhooks_enabled: bool = True,
    admin_ui_enabled: bool = True,
    storage_enabled: bool = True,
    stateful: bool = False,
    business_port: int = 8000,
    admin_port: int | None = None,
    overwrite: bool = False,
    proxy: dict[str, Any] | None = None,
    allow_fetch: list[str] | None = None,
    refs_root: str | os.PathLike[str] | None = None,
    widen_refs_root_to_cwd: bool = False,
    max_spec_bytes: int = DEFAULT_MAX_SPEC_BYTES,
) -> GeneratedProject:
    """Write a standalone mock project for a description and record it in the registry.

    Args:
        spec_url_or_path: a file path, an http(s) URL, a parsed dict or YAML/JSON text.
        output_dir_name: a plain name (the project goes to `MOCKLOOP_HOME/projects/NAME`) or a
            path starting with `/`, `./`, `../` or `~`; default: a name from the API title.
        auth_enabled: simulate the description's security schemes.
        webhooks_enabled: serve `/api/webhooks` and fire webhooks.
        admin_ui_enabled: serve the admin UI at the admin port's `/`.
        storage_enabled: keep the store on disk in the project's `data` folder.
        stateful: CRUD collections inferred from the description.
        business_port: the port the project serves the API on.
        admin_port: the admin port; default `business_port + 1`.
        overwrite: rewrite the generated files of an existing, non-empty folder MockLoop
            did not make (other files in it are left alone). A folder MockLoop made before
            (it holds `.mockloop-project.json`) needs no overwrite: it is reused as it is when
            the inputs are the same, and its generated files are rewritten when they differ.
        proxy: proxy settings (`mockloop.proxy.ProxySettings` as a dict) written to the
            `proxy:` block of mockloop.yaml; when they hold upstream credentials the file is
            readable by its owner only, kept out of the Docker image and mounted by the
            compose file instead.
        allow_fetch: private hosts or CIDRs the description's URLs may reach (loopback always
            may; link-local and cloud metadata never); also written to mockloop.yaml.
        refs_root: the folder local `$ref`s must stay inside; default: the description's own
            folder (see `widen_refs_root_to_cwd`).
        widen_refs_root_to_cwd: without `refs_root`, let local `$ref`s reach the current
            directory when the description lies inside it (as `mockloop serve` does).
        max_spec_bytes: the largest description document read (each file or URL).

    Raises:
        SpecError: the description cannot be loaded (nothing is written).
        ConfigError: a port is invalid, the name is not usable, or the folder exists, is not
            empty and was not made by MockLoop while `overwrite` is False.
    """
    from mockloop.version import __version__

    _check_port(business_port, "business_port")
    _check_port(admin_port, "admin_port")
    if admin_port is None:
        admin_port = business_port + 1 if business_port < 65535 else business_port - 1
    if admin_port == business_port:
        raise ConfigError(f"admin_port={admin_port} is the business port: choose another")
    if proxy is not None:
        from mockloop.proxy.settings import parse_proxy_settings

        proxy = parse_proxy_settings(proxy).model_dump(mode="json", exclude_defaults=True)
    allowed = list(allow_fetch or [])
    spec = load_spec(
        spec_url_or_path,
        max_bytes=max_spec_bytes,
        allow_fetch=allowed,
        refs_root=refs_root,
        widen_refs_root_to_cwd=widen_refs_root_to_cwd,
    )
    folder = _project_folder(output_dir_name, spec.title)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder: choose another output_dir_name")
    spec_name, spec_bytes, note = _description_copy(
        spec_url_or_path, spec, max_bytes=max_spec_bytes, allow_fetch=allowed
    )
    features = {
        "auth": auth_enabled,
        "webhooks": webhooks_enabled,
        "admin_ui": admin_ui_enabled,
        "storage": storage_enabled,
        "stateful": stateful,
    }
    settings: dict[str, Any] = {
        "spec": spec_name,
        "host": "127.0.0.1",
        "port": business_port,
        "admin_host": "127.0.0.1",
        "admin_port": admin_port,
        **features,
        "data_dir": "data",
        "seed": 0,
        "locale": "en_US",
        "validation": "enforce",
    }
    if allowed:
        settings["allow_fetch"] = allowed
    if proxy is not None:
        settings["proxy"] = proxy
    credentials = bool(proxy is not None and proxy.get("auth"))
    values = {
        "title": spec.title,
        "version": __version__,
        "port": business_port,
        "admin_port": admin_port,
        "spec_file": spec_name,
        "operations": len(spec.operations),
    }
    files: dict[str, bytes] = {
        "main.py": fill(MAIN_PY, **values).encode(),
        spec_name: spec_bytes,
        CONFIG_FILE: render_config(settings, title=spec.title, version=__version__).encode(),
        "requirements.txt": f"mockloop=={__version__}\n".encode(),
        "Dockerfile": fill(
            DOCKERFILE, healthcheck=fill(DOCKER_HEALTHCHECK, admin_port=admin_port), **values
        ).encode(),
        "docker-compose.yml": fill(
            COMPOSE,
            volume=_compose_volume(storage_enabled, credentials),
            volumes=COMPOSE_VOLUMES if storage_enabled else "",
            **values,
        ).encode(),
        ".dockerignore": _dockerignore(spec_name, config_in_image=not credentials).encode(),
        "README.md": fill(
            README,
            admin_ui_row=" and the admin UI at `/`" if admin_ui_enabled else "",
            features=_features_text(features),
            **values,
        ).encode(),
    }
    files.update(
        kubernetes_files(
            folder.name,
            values,
            credentials=credentials,
            defines_health=any(op.path.rstrip("/") == "/health" for op in spec.operations),
        )
    )
    digest = _inputs_digest(files)
    action = _action(folder, files, digest, overwrite)
    if action != "reused":
        _write_files(folder, files, digest, credentials=credentials, fresh=not folder.exists())
    project = GeneratedProject(
        name=folder.name,
        path=folder,
        spec_file=folder / spec_name,
        config_file=folder / CONFIG_FILE,
        files=list(files),
        business_port=business_port,
        admin_port=admin_port,
        features=features,
        title=spec.title,
        warnings=[w for w in (note, _credentials_note(credentials)) if w],
        action=action,
    )
    _record(project)
    return project


def _write_files(
    folder: Path, files: dict[str, bytes], digest: str, *, credentials: bool, fresh: bool
) -> None:
    """Write the project's files, then its marker (so a folder with a marker is complete).

    A folder this call created is removed again when writing fails, so nothing half written
    blocks the next attempt.
    """
    from mockloop.version import __version__

    marker = {
        "generator": "mockloop",
        "version": __version__,
        "inputs": digest,
        "files": sorted(files),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        old_spec = _old_spec_file(folder)
        (folder / MARKER_FILE).unlink(missing_ok=True)  # incomplete until rewritten below
        for name, data in files.items():
            (folder / name).parent.mkdir(exist_ok=True)  # k8s/
            _write(folder / name, data)
        if credentials:
            (folder / CONFIG_FILE).chmod(0o600)  # it holds upstream credentials
        if old_spec is not None and old_spec.name not in files and old_spec.is_file():
            old_spec.unlink()  # the previous generation's description, now replaced
        _write(folder / MARKER_FILE, orjson.dumps(marker, option=orjson.OPT_INDENT_2) + b"\n")
        if credentials:
            # Its digest covers the config's bytes: readable by the owner only, like the config.
            (folder / MARKER_FILE).chmod(0o600)
    except OSError as exc:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(f"cannot write the project to {folder}: {exc.strerror or exc}") from None


def _credentials_note(credentials: bool) -> str:
    if not credentials:
        return ""
    return (
        f"{CONFIG_FILE} holds upstream credentials: it is readable by you only, kept out of "
        "the Docker image (.dockerignore) and mounted read-only by docker-compose.yml; with "
        f"`docker run`, mount it the same way (-v ./{CONFIG_FILE}:/app/{CONFIG_FILE}:ro); "
        "k8s/deployment.yaml mounts it from a Secret (k8s/README.md)"
    )


def _record(project: GeneratedProject) -> None:
    from mockloop.store.registry import Registry

    try:
        Registry().add_project(
            {
                "path": str(project.path),
                "name": project.name,
                "spec_file": str(project.spec_file),
                "config_file": str(project.config_file),
                "business_port": project.business_port,
                "admin_port": project.admin_port,
                "features": project.features,
            }
        )
    except StoreError as exc:
        # The project is written and runs; discovery still finds it under the projects
        # folder, so a registry that cannot be written must not fail the generation.
        logger.warning("the project is written but not recorded in the registry: %s", exc)
