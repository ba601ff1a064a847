"""Watch a test plan's steps as they run and report those that depart from the run so far.

`execute_test_plan(ai_monitoring=True)` feeds every step's outcome to a `PlanMonitor`. A step
is an anomaly when, against the steps before it:

- it is slow: its latency is at least `SLOW_FACTOR` times the median of the earlier steps and
  `SLOW_MIN_GAP_MS` above it (after `MIN_BASELINE` timed steps, so one slow first step is not
  judged against nothing);
- the server failed: a 5xx answer (`server_error`) or none at all (`no_response`);
- its status class changed: a 4xx after only 2xx answers (or the reverse) on a step that did
  not pass, i.e. the API began answering differently than the plan expects.

Each anomaly is reported as it happens (a progress message, so an agent or a host watching
the run sees it) and collected in the result's `monitoring` section.
"""

from __future__ import annotations

from statistics import median

from mockloop.testing.plans.model import PlanAnomaly, PlanMonitoring, StepOutcome

__all__ = ["MIN_BASELINE", "SLOW_FACTOR", "SLOW_MIN_GAP_MS", "PlanMonitor"]

SLOW_FACTOR = 3.0
"""A slow step takes at least this many times the median latency of the steps before it."""
SLOW_MIN_GAP_MS = 50.0
"""... and at least this many milliseconds more (a 1 ms to 3 ms jump is noise)."""
MIN_BASELINE = 3
"""Timed steps needed before latency is judged."""


def _status_code(outcome: StepOutcome) -> int | None:
    response = outcome.response or {}
    code = response.get("status")
    return code if isinstance(code, int) else None


class PlanMonitor:
    """Judges each step of one plan run against the steps before it."""

    def __init__(self) -> None:
        self._latencies: list[float] = []
        self._classes: list[int] = []
        self._watched = 0
        self.anomalies: list[PlanAnomaly] = []

    def observe(self, outcome: StepOutcome) -> list[PlanAnomaly]:
        """Judge one step's outcome; returns the anomalies it is (usually none)."""
        if outcome.status == "skipped":
            return []
        self._watched += 1
        found: list[PlanAnomaly] = []
        code = _status_code(outcome)
        elapsed = outcome.elapsed_ms
        baseline = median(self._latencies) if len(self._latencies) >= MIN_BASELINE else None

        def anomaly(kind: str, detail: str) -> None:
            found.append(
                PlanAnomaly(
                    step=outcome.name,
                    operation=outcome.operation,
                    kind=kind,  # type: ignore[arg-type]
                    detail=detail,
                    elapsed_ms=elapsed,
                    baseline_ms=baseline,
                    status_code=code,
                )
            )

        if outcome.status == "error" and code is None:
            anomaly("no_response", f"no response: {outcome.reason or 'the request failed'}")
        elif code is not None and code >= 500:
            anomaly("server_error", f"the server answered {code} ({outcome.status})")
        elif code is not None and outcome.status != "passed" and self._classes:
            seen = set(self._classes)
            if code // 100 not in seen:
                before = "/".join(f"{c}xx" for c in sorted(seen))
                anomaly(
                    "status_change",
                    f"answered {code} after only {before} answers so far, and the step "
                    f"{outcome.status}: {outcome.reason}",
                )
        if (
            elapsed is not None
            and baseline is not None
            and elapsed >= baseline * SLOW_FACTOR
            and elapsed - baseline >= SLOW_MIN_GAP_MS
        ):
            anomaly(
                "slow_step",
                f"took {elapsed:.0f} ms, {elapsed / max(baseline, 0.001):.1f}x the median "
                f"{baseline:.0f} ms of the {len(self._latencies)} steps before it",
            )
        if elapsed is not None:
            self._latencies.append(elapsed)
        if code is not None:
            self._classes.append(code // 100)
        self.anomalies.extend(found)
        return found

    def section(self) -> PlanMonitoring:
        """The result's `monitoring` section: every anomaly found, and one line saying so."""
        middle = median(self._latencies) if self._latencies else None
        if self.anomalies:
            kinds: dict[str, int] = {}
            for item in self.anomalies:
                kinds[item.kind] = kinds.get(item.kind, 0) + 1
            listed = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
            text = f"{len(self.anomalies)} anomal{'y' if len(self.anomalies) == 1 else 'ies'} "
            text += f"in {self._watched} steps: {listed}"
        else:
            text = f"no step of {self._watched} departed from the run"
        if middle is not None:
            text += f" (median step {middle:.0f} ms)"
        return PlanMonitoring(
            steps_watched=self._watched,
            anomalies=list(self.anomalies),
            median_ms=middle,
            summary_text=text,
        )
