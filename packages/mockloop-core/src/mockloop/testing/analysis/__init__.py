"""Analysis of testing runs: what a set of runs says (`analyse`), anomalies against a baseline
(`anomalies`), comparisons of two sets (`compare`) and the statistics behind them (`stats`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.testing.analysis.analyse import ANALYSIS_TYPES as ANALYSIS_TYPES
    from mockloop.testing.analysis.analyse import AnalysisResult as AnalysisResult
    from mockloop.testing.analysis.analyse import Bottleneck as Bottleneck
    from mockloop.testing.analysis.analyse import Check as Check
    from mockloop.testing.analysis.analyse import FunctionalAnalysis as FunctionalAnalysis
    from mockloop.testing.analysis.analyse import LoadAnalysis as LoadAnalysis
    from mockloop.testing.analysis.analyse import Recommendation as Recommendation
    from mockloop.testing.analysis.analyse import analyze_runs as analyze_runs

# The names `mockloop.testing.analysis` held as one module before the split, loaded on first use.
__all__ = [
    "ANALYSIS_TYPES",
    "AnalysisResult",
    "Bottleneck",
    "Check",
    "FunctionalAnalysis",
    "LoadAnalysis",
    "Recommendation",
    "analyze_runs",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("mockloop.testing.analysis.analyse"), name)
