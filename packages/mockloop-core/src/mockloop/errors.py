"""MockLoop's errors.

Every error MockLoop raises derives from `MockLoopError`:

    MockLoopError
    ├── MockLoopUserError            the caller asked for something wrong; fix the input
    │   ├── SpecError                an API description cannot be loaded or understood
    │   ├── ConfigError              an option or a configuration value is invalid
    │   │   └── VersionConflictError an update expected a context version it has moved past
    │   └── ScenarioError            a scenario is unknown or its configuration is invalid
    └── MockLoopRuntimeError         the input was fine but something failed while running
        ├── ServerError              a mock server could not be started, reached or stopped
        └── StoreError               the store (SQLite or PostgreSQL) could not be used
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "MockLoopError",
    "MockLoopRuntimeError",
    "MockLoopUserError",
    "ScenarioError",
    "ServerError",
    "SpecError",
    "StoreError",
    "VersionConflictError",
]


class MockLoopError(Exception):
    """Base of every MockLoop error; raised only through a subclass."""


class MockLoopUserError(MockLoopError):
    """Raised when the caller's input is wrong: the message says what and how to fix it."""


class MockLoopRuntimeError(MockLoopError):
    """Raised when valid input meets a failure at run time (a server down, a disk full)."""


class SpecError(MockLoopUserError):
    """Raised when an API description cannot be loaded, parsed, resolved or normalised.

    Attributes:
        source: the file, URL or "<dict>"/"<string>" the problem was found in.
        pointer: the JSON pointer inside that source ("" for the whole document).
        problem: what is wrong, in words.
    """

    def __init__(self, problem: str, *, source: str = "", pointer: str = "") -> None:
        self.source = source
        self.pointer = pointer
        self.problem = problem
        where = source or "<description>"
        if pointer:
            where = f"{where}#{pointer}"
        super().__init__(f"{where}: {problem}")


class ConfigError(MockLoopUserError):
    """Raised when an option, a setting or a configuration file value is invalid."""


class VersionConflictError(ConfigError):
    """Raised when an update names an `expected_version` the context has moved past.

    Another writer changed the context since the caller read it: read it again
    (get_context_data), redo the change on what is there now, and retry with the new version.

    Attributes:
        context_id: the context.
        expected: the version the caller expected.
        actual: the context's version now.
    """

    def __init__(self, context_id: str, expected: int, actual: int) -> None:
        self.context_id = context_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"context {context_id!r} is at version {actual}, not the expected_version "
            f"{expected}: another writer changed it since you read it; read it again "
            "(get_context_data), redo your change on the current data and retry"
        )


class ScenarioError(MockLoopUserError):
    """Raised when a scenario is unknown or its configuration does not validate."""


class ServerError(MockLoopRuntimeError):
    """Raised when a mock server cannot be started, reached or stopped."""


class StoreError(MockLoopRuntimeError):
    """Raised when the store cannot be opened, migrated, read or written."""
