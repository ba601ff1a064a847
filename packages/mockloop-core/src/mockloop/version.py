"""The installed `mockloop` version, for modules that print or stamp it.

Kept apart from the package's `__init__`, which imports the client: a module that only needs
the version imports this one and stays out of the client's import graph.
"""

from __future__ import annotations

from importlib.metadata import version as _version

__all__ = ["__version__"]

__version__ = _version("mockloop")
