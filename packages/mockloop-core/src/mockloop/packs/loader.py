"""Find, read and validate scenario packs: the fifteen built in, and the user's own.

Built-in packs live in `mockloop/packs/data/<category>/<name>.yaml`. User packs are read from
`MOCKLOOP_PACKS_DIR` when set, else `MOCKLOOP_HOME/packs`, at any depth (`*.yaml`, `*.yml`,
`*.json`). A user file that does not validate is reported (path and every problem) and not
loaded; a user pack whose URI equals a built-in one replaces it (and says so).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from mockloop.errors import ConfigError
from mockloop.packs.models import PACK_CATEGORIES, ScenarioPack

__all__ = [
    "BUILTIN_DIR",
    "LoadedPack",
    "PackCollection",
    "PackFileProblem",
    "load_pack_file",
    "load_packs",
    "parse_pack_uri",
    "user_packs_dir",
]

BUILTIN_DIR = Path(__file__).parent / "data"
_SUFFIXES = (".yaml", ".yml", ".json")
_SCHEME = "scenario-pack://"


@dataclass(frozen=True)
class LoadedPack:
    """A pack that validated, and where it came from."""

    pack: ScenarioPack
    path: Path
    origin: Literal["builtin", "user"]


@dataclass(frozen=True)
class PackFileProblem:
    """A pack file that was not loaded, and why."""

    path: Path
    problems: tuple[str, ...]


@dataclass
class PackCollection:
    """Every pack that loaded, by URI, and every file that did not."""

    packs: dict[str, LoadedPack] = field(default_factory=dict)
    invalid: list[PackFileProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    user_dir: Path | None = None

    def get(self, uri: str) -> LoadedPack:
        """The pack at `uri`; ConfigError listing the known URIs otherwise."""
        key = parse_pack_uri(uri)
        found = self.packs.get(key)
        if found is None:
            known = ", ".join(sorted(self.packs))
            bad = [p for p in self.invalid if _uri_of_path(p.path) == key]
            why = f" ({bad[0].path} did not validate: {'; '.join(bad[0].problems)})" if bad else ""
            raise ConfigError(f"no scenario pack {key!r}{why}; known packs: {known}")
        return found


def parse_pack_uri(uri: str) -> str:
    """`scenario-pack://CATEGORY/NAME` (or `CATEGORY/NAME`) in canonical form."""
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(
            "pack_uri must be a pack URI such as scenario-pack://security/xss-attacks"
        )
    text = uri.strip()
    rest = text[len(_SCHEME) :] if text.startswith(_SCHEME) else text
    parts = [part for part in rest.strip("/").split("/") if part]
    if len(parts) != 2:
        raise ConfigError(
            f"{uri!r} is not a pack URI: write scenario-pack://CATEGORY/NAME, e.g. "
            "scenario-pack://error-simulation/5xx-server-errors (list_scenario_packs lists them)"
        )
    return f"{_SCHEME}{parts[0]}/{parts[1]}"


def _uri_of_path(path: Path) -> str:
    return f"{_SCHEME}{path.parent.name}/{path.stem}"


def user_packs_dir(home: Path | None = None) -> Path | None:
    """`MOCKLOOP_PACKS_DIR`, else `<home>/packs` (home: the client's, else MOCKLOOP_HOME)."""
    configured = os.environ.get("MOCKLOOP_PACKS_DIR")
    if configured:
        return Path(configured).expanduser()
    if home is None:
        from mockloop.settings import mockloop_home

        home = mockloop_home()
    return Path(home) / "packs"


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def load_pack_file(path: Path) -> tuple[ScenarioPack | None, list[str]]:
    """The pack in `path`, or None and every problem (each with its location)."""
    try:
        data = _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"cannot read the file: {exc}"]
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        return None, [f"not valid YAML/JSON: {exc}".replace("\n", " ")]
    if not isinstance(data, dict):
        return None, [
            f"a pack is a mapping with name, category, scenarios; got {type(data).__name__}"
        ]
    try:
        pack = ScenarioPack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = ".".join(str(p) for p in error["loc"]) or "(root)"
            problems.append(f"{location}: {error['msg']}")
        return None, problems
    return pack, []


def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)


def load_packs(home: Path | None = None, *, include_user: bool = True) -> PackCollection:
    """The built-in packs plus the user's (a user pack with a built-in URI replaces it)."""
    collection = PackCollection()
    for path in _files(BUILTIN_DIR):
        pack, problems = load_pack_file(path)
        if pack is None:
            collection.invalid.append(PackFileProblem(path, tuple(problems)))
            continue
        collection.packs[pack.uri] = LoadedPack(pack, path, "builtin")
    if not include_user:
        return collection
    root = user_packs_dir(home)
    collection.user_dir = root
    for path in _files(root) if root is not None else []:
        pack, problems = load_pack_file(path)
        if pack is None:
            collection.invalid.append(PackFileProblem(path, tuple(problems)))
            continue
        if pack.category not in PACK_CATEGORIES:  # pragma: no cover - the model refuses it
            continue
        previous = collection.packs.get(pack.uri)
        if previous is not None and previous.origin == "user":
            collection.invalid.append(
                PackFileProblem(path, (f"{pack.uri} is already defined by {previous.path}",))
            )
            continue
        if previous is not None:
            collection.notes.append(f"{pack.uri}: the user pack {path} replaces the built-in one")
        collection.packs[pack.uri] = LoadedPack(pack, path, "user")
    return collection
