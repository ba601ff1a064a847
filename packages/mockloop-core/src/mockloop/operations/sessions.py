"""Test sessions that group runs, and schedules that run test suites in the background."""

from __future__ import annotations

from mockloop.operations.base import OperationsBase

__all__ = ["TestSessionOperations"]


class TestSessionOperations(OperationsBase):
    """Test sessions that group runs, and schedules that run test suites in the background."""
