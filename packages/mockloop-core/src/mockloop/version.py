"""The installed `mockloop` version, for modules that print or stamp it.

Kept apart from the package's `__init__`, which imports the client: a module that only needs
the version imports this one and stays out of the client's import graph.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]

__version__: str  # set by __getattr__ on first use


def __getattr__(name: str) -> Any:
    """`__version__`, read from the installed metadata on first use (importlib.metadata is a
    noticeable share of a mock's start-up, which never needs the version before it answers)."""
    if name != "__version__":
        raise AttributeError(f"module 'mockloop.version' has no attribute {name!r}")
    from importlib.metadata import version

    value = version("mockloop")
    globals()["__version__"] = value
    return value
