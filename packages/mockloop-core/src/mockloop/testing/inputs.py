"""The runs an analysis, a comparison or a report is about, whatever form the caller gave.

Callers hand over results as they got them: a result model (`LoadTestResult`, a test plan's
result, a security test's result), its JSON form, a list of those, a stored run's id, or a
context's `results` list. `collect_runs` turns all of these into `RunRecord`s that say what kind
of run each is, so the analysis reads one shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from mockloop.errors import ConfigError
from mockloop.load.store import LoadRunStore
from mockloop.testing.runs import TestRunStore

__all__ = ["RunRecord", "collect_runs", "detect_kind"]


@dataclass
class RunRecord:
    """One run: its kind ("load", "test_plan", "iteration", "security"), id and whole result."""

    kind: str
    run_id: str
    result: dict[str, Any]
    server_url: str = ""
    status: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    session_id: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)


def detect_kind(result: dict[str, Any]) -> str | None:
    """The kind of run a result's JSON form comes from, by the fields only that kind has."""
    kind = result.get("kind")
    if isinstance(kind, str) and kind in ("load", "test_plan", "iteration", "security"):
        return kind
    if "achieved_rps" in result and "latency" in result:
        return "load"
    if "findings" in result:
        return "security"
    if "steps" in result and ("passed" in result or "failed" in result):
        return "test_plan"
    if "scenario_name" in result and ("metrics" in result or "load" in result):
        return "iteration"
    return None


def _as_dict(item: Any, where: str) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json")
    if isinstance(item, dict):
        return item
    raise ConfigError(
        f"{where} is a {type(item).__name__}: give a result returned by run_load_test, "
        "execute_test_plan, run_test_iteration or run_security_test (or its JSON), or a run id"
    )


def _record(result: dict[str, Any], where: str) -> RunRecord:
    kind = detect_kind(result)
    if kind is None:
        keys = ", ".join(sorted(result)[:12]) or "none"
        raise ConfigError(
            f"{where} is not a test result MockLoop knows (its fields: {keys}); give a result "
            "of run_load_test, execute_test_plan, run_test_iteration or run_security_test"
        )
    return RunRecord(
        kind=kind,
        run_id=str(result.get("run_id") or result.get("id") or ""),
        result=result,
        server_url=str(result.get("server_url") or ""),
        status=str(result.get("status") or ""),
        started_at=result.get("started_at"),
        finished_at=result.get("finished_at"),
        session_id=result.get("session_id"),
    )


def _stored(run_id: str, runs: TestRunStore, loads: LoadRunStore) -> RunRecord:
    load = loads.get(run_id)
    if load is not None:  # the full record, with the HDR histograms
        record = _record(load["result"], f"load run {run_id!r}")
        row = runs.get(run_id)
        record.session_id = row["session_id"] if row else None
        return record
    row = runs.get(run_id)
    if row is None or row.get("result") is None:
        raise ConfigError(
            f"no stored run {run_id!r}: run ids come from run_load_test, execute_test_plan, "
            "run_test_iteration and run_security_test (get_test_session lists a session's runs)"
        )
    result = dict(row["result"])
    result.setdefault("kind", row["kind"])
    record = _record(result, f"run {run_id!r}")
    record.session_id = row["session_id"]
    return record


_REFERENCE_KEYS = {"run_id", "kind", "status", "server_url", "started_at", "finished_at"}
_REFERENCE_KEYS |= {"summary", "session_id", "context_id"}


def _is_run_reference(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("run_id"), str)
        and set(item) <= _REFERENCE_KEYS
    )


def collect_runs(
    test_results: Any = None,
    run_ids: Iterable[str] | None = None,
    *,
    what: str = "test_results",
) -> list[RunRecord]:
    """Every run the caller named, in the order given (results first, then run ids).

    Items of `test_results` may be results, their JSON, run ids (strings) or lists of these.
    Raises ConfigError naming the item that is none of these, or an unknown run id.
    """
    runs = TestRunStore()
    loads = LoadRunStore()
    records: list[RunRecord] = []
    if test_results is not None:
        items = test_results if isinstance(test_results, list | tuple) else [test_results]
        for index, item in enumerate(items):
            where = f"{what}[{index}]" if isinstance(test_results, list | tuple) else what
            if isinstance(item, str):
                records.append(_stored(item, runs, loads))
            elif _is_run_reference(item):  # a run as get_context_data lists it: fetch it
                records.append(_stored(item["run_id"], runs, loads))
            elif isinstance(item, list | tuple):
                records.extend(collect_runs(list(item), what=where))
            else:
                records.append(_record(_as_dict(item, where), where))
    for run_id in run_ids or ():
        if not isinstance(run_id, str) or not run_id:
            raise ConfigError(f"run_ids holds {run_id!r}: give run id strings")
        records.append(_stored(run_id, runs, loads))
    for record in records:
        load_id = record.result.get("load_run_id")
        if record.kind == "iteration" and isinstance(load_id, str) and "load" not in record.labels:
            stored = loads.get(load_id)  # the iteration's traffic, with its histograms
            if stored is not None:
                record.labels["load"] = stored["result"]
    return records
