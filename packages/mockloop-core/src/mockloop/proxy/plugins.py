"""The plugins this machine runs: one small JSON record per plugin name in
`MOCKLOOP_HOME/plugins/`, so a plugin is found again by name (by the client, the MCP server,
another process). Records hold no secrets: credentials live in the project's mockloop.yaml."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mockloop.errors import ConfigError
from mockloop.settings import mockloop_home

__all__ = ["check_plugin_name", "delete_plugin", "list_plugins", "load_plugin", "save_plugin"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def check_plugin_name(name: str) -> str:
    """`name` if usable (a letter, then up to 39 letters, digits, _ or -); ConfigError else."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"plugin_name={name!r}: use a letter followed by up to 39 letters, digits, _ or - "
            "(e.g. example_api)"
        )
    return name


def _folder() -> Path:
    return mockloop_home() / "plugins"


def save_plugin(record: dict[str, Any]) -> None:
    """Write a plugin's record atomically (replacing an older one of the same name)."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = check_plugin_name(str(record["plugin_name"]))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2, sort_keys=True)
        os.replace(temporary, folder / f"{name}.json")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_plugin(name: str) -> dict[str, Any]:
    """A plugin's record; ConfigError naming the known plugins when there is none."""
    check_plugin_name(name)
    path = _folder() / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(r["plugin_name"] for r in list_plugins()) or "none yet"
        raise ConfigError(
            f"unknown plugin {name!r} (known: {known}); create it with create_mcp_plugin"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the record of plugin {name!r} at {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the record of plugin {name!r} at {path} is not an object")
    return data


def list_plugins() -> list[dict[str, Any]]:
    """Every plugin record, by name."""
    folder = _folder()
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("plugin_name"):
            records.append(data)
    return records


def delete_plugin(name: str) -> bool:
    """Forget a plugin's record; whether there was one."""
    path = _folder() / f"{check_plugin_name(name)}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
