"""Validate, deploy, switch and list scenarios on running mocks."""

from __future__ import annotations

from mockloop.operations.base import OperationsBase

__all__ = ["ScenarioToolOperations"]


class ScenarioToolOperations(OperationsBase):
    """Validate, deploy, switch and list scenarios on running mocks."""
