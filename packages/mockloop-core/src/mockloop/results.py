"""The base of every operation's result: a pydantic model that also reads like a mapping.

Results are typed (`result.business_url`) and serialise with `model_dump(mode="json")`; the
call shapes users know from the documentation index them (`session["context_id"]`), so
`result["field"]`, `"field" in result`, `result.get("field")` and `result.keys()` work too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Result", "summary_of"]


class Result(BaseModel):
    """A typed operation result that also allows `result["field"]` item access."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in self._field_names():
            fields = ", ".join(sorted(self._field_names()))
            raise KeyError(f"{type(self).__name__} has no field {key!r} (fields: {fields})")
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._field_names()

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or `default` when the result has no such field."""
        return getattr(self, key) if key in self else default

    def keys(self) -> list[str]:
        """The names of the result's fields, in declaration order."""
        return list(self._field_names())

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, value) pairs of the result's fields."""
        for name in self._field_names():
            yield name, getattr(self, name)

    def summary(self, limit: int = 600) -> str:
        """A short text an agent can read: scalar fields as they are, lists and mappings as
        sizes. Results with a better story to tell override it."""
        parts = []
        for name, value in self.items():
            if value is None or name.startswith("_"):
                continue
            if isinstance(value, list | tuple):
                parts.append(f"{name}: {len(value)} item(s)")
            elif isinstance(value, dict):
                parts.append(f"{name}: {len(value)} key(s)")
            elif isinstance(value, BaseModel):
                parts.append(f"{name}: {type(value).__name__}")
            else:
                parts.append(f"{name}: {value}")
        text = f"{type(self).__name__}(" + "; ".join(parts) + ")"
        return text if len(text) <= limit else text[: limit - 3] + "..."

    @classmethod
    def _field_names(cls) -> dict[str, Any]:
        return cls.model_fields


def summary_of(result: Any, limit: int = 600) -> str:
    """The short text of a result: its `summary()`, or its `summary` field for results that
    carry one (an analysis's quotable paragraph)."""
    summary = getattr(result, "summary", None)
    if isinstance(summary, str):
        return summary if len(summary) <= limit * 4 else summary[: limit * 4 - 3] + "..."
    if callable(summary):
        return str(summary(limit))
    return str(result)
