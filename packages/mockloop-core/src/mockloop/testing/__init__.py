"""Functional testing: test plans and their execution, iterations, sessions and schedules.

Every run a testing operation makes (a test plan, an iteration, a security test, a load test)
is kept in `MOCKLOOP_HOME/test_runs.db` by `TestRunStore`, tagged with the test session it
belongs to, so sessions, analyses and reports read what really happened.
"""
