"""Named test plans: files in `MOCKLOOP_HOME/plans/<name>.yaml|yml|json`, or any plan file.

`execute_test_plan(test_plan="checkout_test_plan")` looks the name up here; a path to a
`.yaml`/`.json` file is read directly; inline JSON or YAML text is parsed. `save_test_plan`
writes a validated plan under its name (as YAML).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import yaml

from mockloop.errors import ConfigError
from mockloop.settings import mockloop_home
from mockloop.testing.plans.model import TestPlan, parse_plan

__all__ = ["PLAN_SUFFIXES", "list_plans", "plans_dir", "read_plan", "save_plan"]

PLAN_SUFFIXES = (".yaml", ".yml", ".json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def plans_dir() -> Path:
    """`MOCKLOOP_HOME/plans` (not created until a plan is saved)."""
    return mockloop_home() / "plans"


def _parse_text(text: str, source: str) -> Any:
    try:
        if source.endswith(".json"):
            return orjson.loads(text)
        return yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"test plan {source}: not valid JSON/YAML: {first}") from None


def _read_file(path: Path) -> TestPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"test plan {path}: cannot be read ({exc.strerror})") from None
    return parse_plan(_parse_text(text, path.name), what=f"test plan {path}")


def _available() -> list[str]:
    folder = plans_dir()
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if p.suffix in PLAN_SUFFIXES and p.is_file()})


def read_plan(reference: str) -> tuple[TestPlan, str]:
    """The plan `reference` designates (a name, a file path or inline JSON/YAML), and how it
    was found ("named NAME", "file PATH", "inline"); ConfigError listing what exists."""
    text = reference.strip()
    if not text:
        raise ConfigError("test_plan is empty: give a plan object, a plan name or a file path")
    if text.startswith("{") or "\n" in text:
        return parse_plan(_parse_text(text, "<inline>"), what="test_plan"), "inline"
    path = Path(text).expanduser()
    if text.endswith(PLAN_SUFFIXES) or "/" in text or "\\" in text:
        try:
            is_file = path.is_file()
        except OSError as exc:  # a name the file system refuses, e.g. too long
            shown = text if len(text) <= 200 else text[:197] + "..."
            raise ConfigError(
                f"test_plan: {shown!r} is not a usable file path ({exc.strerror or exc})"
            ) from None
        if is_file:
            return _read_file(path), f"file {path}"
        if text.endswith(PLAN_SUFFIXES) and ("/" in text or "\\" in text):
            raise ConfigError(f"test_plan: no file {path}")
    name = path.stem if text.endswith(PLAN_SUFFIXES) else text
    folder = plans_dir()
    for suffix in PLAN_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        try:
            found = candidate.is_file()
        except OSError:  # no file can have a name the file system refuses
            found = False
        if found:
            return _read_file(candidate), f"named {name}"
    available = _available()
    listed = ", ".join(available) if available else "none yet"
    raise ConfigError(
        f"test_plan: no plan named {name!r} (looked for {folder}/{name}.yaml|yml|json). "
        f"Known plans (list_test_plans lists them): {listed}. Create it with "
        f"save_test_plan(name={name!r}, test_plan={{'name': {name!r}, 'steps': [{{'operation': "
        "'<operationId>', 'expect': {'status': 200}}]}), by writing "
        f"{folder}/{name}.yaml, or pass a plan object or a file path instead; "
        "test_plan=None generates a plan from the mock's description"
    )


def save_plan(name: str, plan: TestPlan, *, overwrite: bool = True) -> tuple[Path, bool]:
    """Write `plan` as `plans/<name>.yaml`; returns the path and whether one was replaced."""
    if not _NAME.match(name):
        raise ConfigError(
            f"name={name!r}: a plan name is letters, digits, '_', '-' and '.', starting with a "
            "letter or digit (at most 200 characters)"
        )
    folder = plans_dir()
    existing = [folder / f"{name}{suffix}" for suffix in PLAN_SUFFIXES]
    found = [p for p in existing if p.is_file()]
    if found and not overwrite:
        raise ConfigError(
            f"a plan named {name!r} exists ({found[0]}); pass overwrite=True to replace it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for stale in found:
        stale.unlink()
    target = folder / f"{name}.yaml"
    data = plan.model_dump(mode="json", exclude_unset=True)
    data.setdefault("name", plan.name)
    partial = target.with_suffix(".yaml.partial")
    partial.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    partial.replace(target)
    return target, bool(found)


def list_plans() -> list[dict[str, Any]]:
    """The stored plans: name, path, step count and description (unreadable ones say why)."""
    listed: list[dict[str, Any]] = []
    for name in _available():
        path = next(
            plans_dir() / f"{name}{s}"
            for s in PLAN_SUFFIXES
            if (plans_dir() / f"{name}{s}").is_file()
        )
        try:
            plan = _read_file(path)
        except ConfigError as exc:
            listed.append({"name": name, "path": str(path), "steps": 0, "error": str(exc)})
            continue
        listed.append(
            {
                "name": name,
                "path": str(path),
                "steps": len(plan.steps),
                "description": plan.description,
            }
        )
    return listed
