"""Test plans (given or generated from a description) and test iterations against real servers."""

from __future__ import annotations

from mockloop.operations.base import OperationsBase

__all__ = ["TestPlanOperations"]


class TestPlanOperations(OperationsBase):
    """Test plans (given or generated from a description) and test iterations."""
