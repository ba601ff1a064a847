"""MockLoop for crewai. The tools land with issue 11; this package pins the layout."""

from importlib.metadata import version as _version

__all__ = ["__version__"]

__version__ = _version("mockloop-crewai")
