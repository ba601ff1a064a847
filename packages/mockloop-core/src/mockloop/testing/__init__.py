"""Functional testing, in three rooms over one record of runs.

* `plans`: test plans, generated or written, and their execution.
* `sessions`: test sessions that group runs, schedules and the scheduler.
* `analysis`: what runs say, anomalies and comparisons, with their statistics.

Every run a testing operation makes (a test plan, an iteration, a security test, a load test)
is kept by `runs.TestRunStore` in `MOCKLOOP_HOME/test_runs.db`, tagged with the test session it
belongs to; `inputs` reads runs in whatever form a caller hands them over and `run_views` gives
uniform views over their kinds, so sessions, analyses and reports read what really happened;
`iterations` holds the result of a test iteration (a scenario under real traffic, its metrics
and its request log).
"""
