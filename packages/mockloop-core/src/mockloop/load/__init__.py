"""The load engine: closed and open workload models over a fast keep-alive HTTP/1.1 client,
HDR latency histograms merged exactly across worker processes, runs kept for analysis.

`mockloop.operations.load` exposes it as `run_load_test`, `get_performance_metrics` and
`monitor_test_progress`; `mockloop load URL` is its command line.
"""

from mockloop.load.metrics import PerformanceMetricsResult, aggregate_runs
from mockloop.load.plan import LoadPlan, RequestTemplate, Target
from mockloop.load.report import (
    GeneratorStats,
    LatencyStats,
    LoadProgress,
    LoadTestResult,
    OperationStats,
    SecondStats,
    ThresholdVerdict,
)
from mockloop.load.runner import execute_plan, probe_target

__all__ = [
    "GeneratorStats",
    "LatencyStats",
    "LoadPlan",
    "LoadProgress",
    "LoadTestResult",
    "OperationStats",
    "PerformanceMetricsResult",
    "RequestTemplate",
    "SecondStats",
    "Target",
    "ThresholdVerdict",
    "aggregate_runs",
    "execute_plan",
    "probe_target",
]
