"""Security tests: real probes mapped to the OWASP API Security Top 10 (2023)."""

from __future__ import annotations

from mockloop.operations.base import OperationsBase

__all__ = ["SecurityOperations"]


class SecurityOperations(OperationsBase):
    """Security tests: real probes mapped to the OWASP API Security Top 10 (2023)."""
