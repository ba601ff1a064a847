"""Analysis and comparison of test runs: statistics, anomalies, regressions."""

from __future__ import annotations

from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import TestResults
from mockloop.testing.analysis.analyse import AnalysisResult, analyze_runs
from mockloop.testing.analysis.compare import ComparisonResult, compare_runs
from mockloop.testing.inputs import RunRecord, collect_runs
from mockloop.testing.runs import TestRunStore

__all__ = ["AnalysisOperations"]


def _context_runs(store: TestRunStore, context_id: str) -> list[RunRecord]:
    rows = store.list(context_id=context_id, limit=1000, with_result=True)
    return collect_runs([row["id"] for row in rows], what=f"runs of context {context_id!r}")


class AnalysisOperations(OperationsBase):
    """Analysis and comparison of test runs: statistics, anomalies, regressions."""

    @operation(group="analysis", read_only=True, roles=("performance", "security"))
    async def analyze_test_results(
        self,
        test_results: TestResults = None,
        run_ids: list[str] | None = None,
        analysis_type: str = "comprehensive",
        include_recommendations: bool = True,
        context_id: str | None = None,
        slo: dict[str, float] | None = None,
        ai_insights: bool = False,
    ) -> AnalysisResult:
        """Analyse test runs: statistics, SLO checks, anomalies, bottlenecks, recommendations.

        Works on load runs (rates, latency percentiles merged exactly from their histograms,
        error rates, per operation), test iterations (their load), test plans (step outcomes
        by operation) and security tests (findings by severity and category). Anomalies are
        found in each load run's per-second series (latency spikes, error bursts, throughput
        drops, with the seconds they happened); each recommendation cites the figure it rests
        on; `summary` is a paragraph to quote and `verdict` is pass, warn or fail with reasons.

        Args:
            test_results: results of run_load_test, execute_test_plan, run_test_iteration or
                run_security_test (one, a list, their JSON, or run id strings).
            run_ids: ids of stored runs to analyse (as well as test_results).
            analysis_type: comprehensive (everything), performance (load figures only),
                functional (test plan steps only) or security (findings only).
            include_recommendations: add recommendations, each citing its figure.
            context_id: analyse every run recorded with this context id (as well as any given).
            slo: service level objectives to check every load run against, e.g.
                {"p95_ms": 200, "error_rate": 0.01, "min_rps": 50}.
            ai_insights: add an `insights` section: what the figures mean (a long latency
                tail, errors concentrated in one operation, the slow operation, a run that
                changed over time, failing plan steps, anomalies seen while plans ran, severe
                findings, untested categories), each citing its figure; refined by the
                client's llm when one is set (its insights are kept only with evidence).
        """

        def gather() -> list[RunRecord]:
            records = collect_runs(test_results, run_ids)
            if context_id:
                known = {r.run_id for r in records}
                records += [
                    r
                    for r in _context_runs(self.services.stores.test_runs, context_id)
                    if r.run_id not in known
                ]
            return records

        records = await self._in_thread(gather)
        if not records:
            raise ConfigError(
                "nothing to analyse: give test_results (what run_load_test, execute_test_plan, "
                "run_test_iteration or run_security_test returned), run_ids, or a context_id "
                "whose runs are recorded"
            )
        result = analyze_runs(records, analysis_type, include_recommendations, slo, context_id)
        if ai_insights:
            from mockloop.prompts.insights import refine_insights
            from mockloop.testing.analysis.insights import build_insights

            analysis = result.model_dump(mode="json")
            plans = [r.result for r in records if r.kind == "test_plan"]
            result.insights = await refine_insights(
                build_insights(analysis, plans), analysis, self.llm
            )
        return result

    @operation(group="analysis", read_only=True, roles=("security",))
    async def compare_test_runs(
        self,
        baseline_results: TestResults,
        comparison_results: TestResults,
        comparison_metrics: list[str] | None = None,
        threshold_pct: float = 20.0,
        min_latency_delta_ms: float = 2.0,
        min_error_rate_delta: float = 0.01,
        alpha: float = 0.05,
    ) -> ComparisonResult:
        """Compare test runs with a baseline: each metric improved, regressed or unchanged.

        Load runs (and iterations) compare throughput, mean/p50/p95/p99 latency and error rate,
        overall and per operation: a change counts only when it exceeds threshold_pct (and
        min_latency_delta_ms for latency, min_error_rate_delta for errors) and a test says it is
        not chance (Mann-Whitney U over every latency with an effect size, distribution-free
        quantile intervals for p95/p99, a two-proportion z-test for error rates); the p-value or
        intervals are in the result. Test plans compare step outcomes; security tests compare
        findings (new ones are regressions).

        Args:
            baseline_results: the baseline: a result, a list of results, their JSON or run ids.
            comparison_results: the runs to compare with it, in the same forms.
            comparison_metrics: any of throughput, latency_mean, latency_p50, latency_p95,
                latency_p99, error_rate; default all.
            threshold_pct: smallest relative change (percent of the baseline) that counts;
                p95/p99 latency need twice as much.
            min_latency_delta_ms: smallest latency change (ms) that counts.
            min_error_rate_delta: smallest error rate change (absolute, 0.01 = 1 point) that
                counts.
            alpha: significance level of the tests: 0.1, 0.05, 0.01 or 0.001.
        """

        def gather() -> tuple[list[RunRecord], list[RunRecord]]:
            return (
                collect_runs(baseline_results, what="baseline_results"),
                collect_runs(comparison_results, what="comparison_results"),
            )

        baseline, comparison = await self._in_thread(gather)
        return compare_runs(
            baseline,
            comparison,
            comparison_metrics,
            threshold_pct,
            min_latency_delta_ms,
            min_error_rate_delta,
            alpha,
        )
