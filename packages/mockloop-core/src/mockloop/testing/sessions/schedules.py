"""What a schedule is: a test suite, its timing, its notifications, and how it reads.

A schedule runs a test suite (testing operations with their arguments) every N seconds or by
a cron expression, within optional bounds, into a test session, and tells a webhook and/or a
file after each suite run. This module checks what the caller gives (errors name the field,
e.g. `test_suite.tests[1].arguments.server_url`), computes due times, and holds the result
models; `schedule_store` keeps schedules and `scheduler` runs them.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import to_jsonable_python

from mockloop.errors import ConfigError
from mockloop.results import Result
from mockloop.urls import normalise_url

if TYPE_CHECKING:
    from mockloop.operation import Catalog

__all__ = [
    "MIN_INTERVAL_SECONDS",
    "NotificationConfig",
    "ScheduleConfig",
    "ScheduleListStatus",
    "ScheduleRequest",
    "ScheduleStatus",
    "ScheduleTiming",
    "StoredSuite",
    "SuiteTest",
    "TestSchedule",
    "TestScheduleList",
    "TestSuite",
    "parse_notification_config",
    "parse_schedule_config",
    "parse_test_suite",
]

MIN_INTERVAL_SECONDS = 1.0
ScheduleStatus = Literal["active", "cancelled", "completed", "failed"]
ScheduleListStatus = Literal["active", "orphaned", "cancelled", "completed", "failed"]

# -- the suite ------------------------------------------------------------------------------


class SuiteTest(BaseModel):
    """One test of a suite: a testing operation and its arguments (JSON)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation": "run_load_test",
                    "arguments": {"server_url": "http://127.0.0.1:8000", "duration": 5},
                }
            ]
        }
    )

    operation: str = Field(
        description="the operation to call: execute_test_plan, run_test_iteration, "
        "run_load_test or run_security_test"
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="that operation's own arguments, as its tool schema describes them "
        "(session_id comes from the schedule)",
    )


class TestSuite(BaseModel):
    """What a schedule runs, each time, in order."""

    __test__ = False  # not a pytest test class, whatever its name says
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "smoke",
                    "tests": [
                        {
                            "operation": "execute_test_plan",
                            "arguments": {"server_url": "http://127.0.0.1:8000"},
                        }
                    ],
                }
            ]
        }
    )

    name: str = Field(description="the suite's name (also its session's, by default)")
    description: str | None = Field(default=None, description="what the suite checks")
    tests: list[SuiteTest] = Field(description="the tests, run in order on every suite run")


def _keys(value: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown field; allowed: {', '.join(allowed)}")


def parse_test_suite(test_suite: Any, catalog: Catalog) -> TestSuite:
    """Check a suite against the operations of `catalog` (the client's, given by the caller);
    ConfigError naming the first bad field."""

    if not isinstance(test_suite, dict):
        raise ConfigError(
            'test_suite must be an object: {"name": ..., "tests": [{"operation": ..., '
            '"arguments": {...}}]}'
        )
    _keys(test_suite, ("name", "description", "tests"), "test_suite")
    name = test_suite.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("test_suite.name: field required (a non-empty string)")
    tests = test_suite.get("tests")
    if not isinstance(tests, list) or not tests:
        raise ConfigError("test_suite.tests: field required (a non-empty list of tests)")
    # The operations marked `schedulable=True` (see `mockloop.operation`), in catalog order.
    allowed = [op.name for op in catalog.select(kind=None, schedulable=True)]
    parsed = []
    for index, entry in enumerate(tests):
        where = f"test_suite.tests[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f'{where}: must be an object {{"operation": ..., "arguments": ...}}')
        _keys(entry, ("operation", "arguments"), where)
        op = entry.get("operation")
        if op not in allowed:
            given = "field required" if op is None else f"{op!r} is not a testing operation"
            raise ConfigError(f"{where}.operation: {given}; use one of: {', '.join(allowed)}")
        if "session_id" not in {param.name for param in catalog[op].parameters}:
            raise ConfigError(
                f"{where}.operation: {op} takes no session_id, so its runs could not land in "
                "the schedule's session"
            )
        arguments = entry.get("arguments", {})
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise ConfigError(f"{where}.arguments: must be an object of the operation's arguments")
        if "session_id" in arguments:
            raise ConfigError(
                f"{where}.arguments.session_id: the schedule chooses the session; give it as "
                "schedule_config.session_id"
            )
        if arguments.get("background"):
            raise ConfigError(
                f"{where}.arguments.background: a scheduled test runs to its end; leave "
                "background out"
            )
        try:
            catalog[op].args_model.model_validate(arguments)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = "".join(f".{part}" for part in error["loc"])
                problems.append(f"{where}.arguments{field}: {error['msg']}")
            raise ConfigError("; ".join(problems)) from None
        try:
            plain = orjson.loads(orjson.dumps(to_jsonable_python(arguments)))
        except (TypeError, ValueError, orjson.JSONEncodeError) as exc:
            raise ConfigError(f"{where}.arguments: cannot be stored as JSON ({exc})") from None
        parsed.append(SuiteTest(operation=op, arguments=plain))
    return TestSuite(name=name.strip(), description=test_suite.get("description"), tests=parsed)


class StoredSuite(BaseModel):
    """`{}`: with schedule_config.resume, the schedule's stored suite runs unchanged."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})


# -- timing ---------------------------------------------------------------------------------


def _moment(value: Any, where: str) -> float:
    """Epoch seconds from a number, an ISO 8601 string or a datetime (naive means UTC)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: give epoch seconds or an ISO 8601 date-time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{where}: {value!r} is not an ISO 8601 date-time (e.g. 2026-01-31T08:00:00Z)"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise ConfigError(f"{where}: give epoch seconds or an ISO 8601 date-time")


class ScheduleTiming(BaseModel):
    """When a schedule runs: an interval or a cron expression, within optional bounds."""

    kind: Literal["interval", "cron"]
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str = Field(default="UTC", description="the IANA zone cron times are read in")
    start_at: float | None = None
    end_at: float | None = None
    max_runs: int | None = None
    run_immediately: bool = False

    def cron_next(self, after: float) -> float:
        """The first cron time strictly after `after` (epoch seconds)."""
        assert self.cron is not None
        base = datetime.fromtimestamp(after, ZoneInfo(self.timezone))
        return float(croniter(self.cron, base).get_next(datetime).timestamp())

    def first_due(self, now: float) -> float | None:
        """When the first suite run is due (None: never, the window is already over)."""
        start = max(now, self.start_at) if self.start_at is not None else now
        if self.run_immediately or (self.kind == "interval" and self.start_at is not None):
            due = start
        elif self.kind == "interval":
            assert self.interval_seconds is not None
            due = start + self.interval_seconds
        else:
            due = self.cron_next(start - 0.001 if start > now else start)
        return self._within(due)

    def next_due(self, previous_due: float, finished_at: float) -> float | None:
        """The next due time after a suite run due at `previous_due` that ended at
        `finished_at`: runs never overlap; missed interval slots are skipped."""
        if self.kind == "interval":
            assert self.interval_seconds is not None
            slots = math.floor(max(0.0, finished_at - previous_due) / self.interval_seconds) + 1
            due = previous_due + slots * self.interval_seconds
        else:
            due = self.cron_next(max(finished_at, previous_due))
        return self._within(due)

    def _within(self, due: float) -> float | None:
        return None if self.end_at is not None and due > self.end_at else due

    def describe(self) -> str:
        """'every 5 s' or 'cron */5 * * * * (UTC)', with its bounds."""
        text = (
            f"every {self.interval_seconds:g} s"
            if self.kind == "interval"
            else f"cron {self.cron} ({self.timezone})"
        )
        if self.max_runs is not None:
            text += f", at most {self.max_runs} run(s)"
        if self.end_at is not None:
            text += f", until {datetime.fromtimestamp(self.end_at, UTC).isoformat()}"
        return text


def _leave_out(schema: dict[str, Any]) -> None:
    """Publish an optional field as one to leave out, not to send as null (refused)."""
    schema.pop("default", None)


class ScheduleConfig(BaseModel):
    """When a schedule runs (the published shape of `schedule_config`).

    Give exactly one of interval_seconds or cron; or resume alone to restart an orphaned
    schedule in this process with its stored timing.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"interval_seconds": 60, "max_runs": 10}]},
    )

    interval_seconds: Annotated[float, Field(ge=MIN_INTERVAL_SECONDS)] | SkipJsonSchema[None] = (
        Field(
            default=None,
            description="run every this many seconds (1+)",
            json_schema_extra=_leave_out,
        )
    )
    cron: str | SkipJsonSchema[None] = Field(
        default=None,
        description='a cron expression, e.g. "*/5 * * * *" (every 5 minutes)',
        json_schema_extra=_leave_out,
    )
    timezone: str = Field(
        default="UTC", description="the IANA zone cron times are read in, e.g. Europe/Paris"
    )
    start_at: float | str | None = Field(
        default=None,
        description="no run before this: epoch seconds or ISO 8601, e.g. 2026-01-31T08:00:00Z",
    )
    end_at: float | str | None = Field(
        default=None, description="no run after this: epoch seconds or ISO 8601"
    )
    max_runs: int | None = Field(default=None, ge=1, description="stop after this many runs")
    run_immediately: bool = Field(
        default=False, description="true: the first run starts now, not one interval later"
    )
    session_id: str | None = Field(
        default=None,
        description="the active test session runs land in (default: a new one named after "
        "the suite)",
    )
    resume: str | SkipJsonSchema[None] = Field(
        default=None,
        description="the id of an orphaned schedule to run here again (alone)",
        json_schema_extra=_leave_out,
    )


class ScheduleRequest(BaseModel):
    """schedule_config, checked: the timing, the session runs land in, or a schedule to resume."""

    timing: ScheduleTiming | None = None
    session_id: str | None = None
    resume: str | None = None


_SCHEDULE_KEYS = (
    "interval_seconds",
    "cron",
    "timezone",
    "start_at",
    "end_at",
    "max_runs",
    "run_immediately",
    "session_id",
    "resume",
)


def parse_schedule_config(config: Any, *, now: float | None = None) -> ScheduleRequest:
    """Check schedule_config; ConfigError naming the first bad field."""
    if not isinstance(config, dict):
        raise ConfigError(
            'schedule_config must be an object, e.g. {"interval_seconds": 60} or '
            '{"cron": "*/5 * * * *"}'
        )
    _keys(config, _SCHEDULE_KEYS, "schedule_config")
    now = time.time() if now is None else now
    if "resume" in config:
        resume = config["resume"]
        if set(config) != {"resume"}:
            raise ConfigError("schedule_config.resume: give resume alone (the stored timing runs)")
        if not isinstance(resume, str) or not resume:
            raise ConfigError("schedule_config.resume: give the id of the schedule to resume")
        return ScheduleRequest(resume=resume)
    has_interval, has_cron = "interval_seconds" in config, "cron" in config
    if has_interval == has_cron:
        raise ConfigError(
            "schedule_config: give exactly one of interval_seconds (e.g. 60) or cron "
            '(e.g. "*/5 * * * *")'
        )
    timezone = config.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ConfigError("schedule_config.timezone: give an IANA zone name, e.g. Europe/Paris")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"schedule_config.timezone: unknown time zone {timezone!r} (e.g. UTC, Europe/Paris)"
        ) from None
    fields: dict[str, Any] = {"timezone": timezone}
    if has_interval:
        interval = config["interval_seconds"]
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise ConfigError("schedule_config.interval_seconds: give a number of seconds")
        if not interval >= MIN_INTERVAL_SECONDS or math.isinf(interval):
            raise ConfigError(
                f"schedule_config.interval_seconds: {interval!r} is below the minimum of "
                f"{MIN_INTERVAL_SECONDS:g} s; give 1 or more"
            )
        fields |= {"kind": "interval", "interval_seconds": float(interval)}
    else:
        expression = config["cron"]
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError('schedule_config.cron: give a cron expression, e.g. "*/5 * * * *"')
        try:
            croniter(expression.strip())
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"schedule_config.cron: {expression!r} is not a valid cron expression: {exc}"
            ) from None
        fields |= {"kind": "cron", "cron": expression.strip()}
    for key in ("start_at", "end_at"):
        if config.get(key) is not None:
            fields[key] = _moment(config[key], f"schedule_config.{key}")
    if "end_at" in fields:
        if fields["end_at"] <= now:
            raise ConfigError("schedule_config.end_at: is in the past; give a later time")
        if "start_at" in fields and fields["start_at"] >= fields["end_at"]:
            raise ConfigError("schedule_config.end_at: must be after schedule_config.start_at")
    max_runs = config.get("max_runs")
    if max_runs is not None:
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
            raise ConfigError("schedule_config.max_runs: give a whole number, 1 or more")
        fields["max_runs"] = max_runs
    run_immediately = config.get("run_immediately", False)
    if not isinstance(run_immediately, bool):
        raise ConfigError("schedule_config.run_immediately: give true or false")
    fields["run_immediately"] = run_immediately
    session_id = config.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise ConfigError("schedule_config.session_id: give the id create_test_session returned")
    timing = ScheduleTiming(**fields)
    if timing.first_due(now) is None:
        raise ConfigError(
            "schedule_config.end_at: no run would be due before it; give a later time"
        )
    return ScheduleRequest(timing=timing, session_id=session_id)


# -- notifications ----------------------------------------------------------------------------


class NotificationConfig(BaseModel):
    """Whom to tell after a suite run: a webhook (POST JSON) and/or a file (JSON lines)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"webhook_url": "http://127.0.0.1:9000/hook", "on": "failure"}]
        }
    )

    webhook_url: str | None = Field(
        default=None, description="an http(s) URL that gets a POST of the run's JSON summary"
    )
    file: str | None = Field(
        default=None, description="a file the summary is appended to as a JSON line"
    )
    on: Literal["failure", "always"] = Field(
        default="failure", description="notify after failed runs only, or after every run"
    )

    def wants(self, outcome: str) -> bool:
        """Whether a suite run with this outcome is to be notified."""
        return self.on == "always" or outcome != "passed"


def parse_notification_config(config: Any) -> NotificationConfig | None:
    """Check notification_config; ConfigError naming the first bad field."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ConfigError(
            'notification_config must be an object, e.g. {"webhook_url": '
            '"http://127.0.0.1:9000/hook", "on": "failure"} or {"file": "runs.jsonl"}'
        )
    _keys(config, ("webhook_url", "file", "on"), "notification_config")
    webhook, path = config.get("webhook_url"), config.get("file")
    if webhook is None and path is None:
        raise ConfigError("notification_config: give webhook_url and/or file")
    if webhook is not None:
        if not isinstance(webhook, str) or "://" not in webhook:
            raise ConfigError(
                "notification_config.webhook_url: give an http(s) URL, e.g. "
                "http://127.0.0.1:9000/hook"
            )
        normalise_url(webhook, what="notification_config.webhook_url")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise ConfigError("notification_config.file: give the path of a file to append to")
    on = config.get("on", "failure")
    if on not in ("failure", "always"):
        raise ConfigError(f"notification_config.on: {on!r}; use 'failure' or 'always'")
    file = os.path.abspath(os.path.expanduser(path)) if path is not None else None
    return NotificationConfig(webhook_url=webhook, file=file, on=on)


# -- results ---------------------------------------------------------------------------------


class TestSchedule(Result):
    """A schedule: its timing, where its runs land, what it has done and whether it runs."""

    __test__ = False

    schedule_id: str
    name: str = Field(description="the suite's name")
    status: str = Field(
        description="active, orphaned (its runner is gone), cancelled, completed or failed"
    )
    state: str = Field(description="who runs it, or why it ended")
    running_here: bool = Field(description="this process runs it")
    schedule: str = Field(description="the timing in words")
    timing: dict[str, Any]
    tests: list[str] = Field(description="the operations of the suite, in order")
    session_id: str
    next_run_at: float | None = Field(default=None, description="epoch seconds")
    next_run_at_iso: str | None = None
    runs_done: int = Field(description="suite runs finished")
    last_run_at: float | None = None
    last_outcome: str | None = Field(default=None, description="passed, failed or cancelled")
    last_error: str | None = Field(default=None, description="the latest test call error")
    recent_runs: list[dict[str, Any]] = Field(
        default_factory=list, description="the latest suite runs: outcome and per-test runs"
    )
    notification: dict[str, Any] | None = None
    notification_errors: list[dict[str, Any]] = Field(default_factory=list)
    owner_pid: int
    created_at: float
    message: str = ""

    def summary(self, limit: int = 600) -> str:
        """One paragraph: the schedule, its state and its last outcome."""
        text = (
            f"schedule {self.schedule_id} ({self.name}, {self.schedule}): {self.status}, "
            f"{self.state}; {self.runs_done} suite run(s) into session {self.session_id}"
        )
        if self.last_outcome:
            text += f", last {self.last_outcome}"
        if self.next_run_at_iso and self.status == "active":
            text += f", next at {self.next_run_at_iso}"
        if self.message:
            text += f". {self.message}"
        return text if len(text) <= limit else text[: limit - 3] + "..."


class TestScheduleList(Result):
    """Stored schedules, newest first."""

    __test__ = False

    schedules: list[TestSchedule]
    count: int
