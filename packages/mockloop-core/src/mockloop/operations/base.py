"""What every group of client operations stands on: the settings and the services built from
them once per client (see `mockloop.operations.services`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mockloop.operations.services import ClientServices
from mockloop.operations.services.admin import AdminTarget
from mockloop.settings import ClientSettings
from mockloop.urls import normalise_url

if TYPE_CHECKING:
    from mockloop.spec import ApiSpec

__all__ = ["AdminTarget", "OperationsBase", "normalise_url"]

T = TypeVar("T")


class OperationsBase:
    """Settings and services; operations live in the subclasses and delegate to `services`."""

    settings: ClientSettings
    services: ClientServices

    def __init__(
        self,
        *,
        home: str | None = None,
        timeout: float | None = None,
        admin_token: str | None = None,
        llm: Any = None,
    ) -> None:
        self.settings = ClientSettings.from_env(home=home, timeout=timeout, admin_token=admin_token)
        self.services = ClientServices(self.settings)
        # An optional model the prompts refine their deterministic results with.
        self.llm = llm

    @property
    def current_session_id(self) -> str | None:
        """The test session opened by create_test_session and not yet ended: runs made by
        this client land in it unless a call names another session."""
        return self.services.current.session_id

    @current_session_id.setter
    def current_session_id(self, session_id: str | None) -> None:
        self.services.current.session_id = session_id

    async def _in_thread(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking work in a thread, with this client's state folder in force."""
        return await self.services.work.run(func, *args, **kwargs)

    async def _load_spec(self, source: Any) -> ApiSpec:
        """Load a description an agent or caller gave (see `BlockingWork.load_spec`)."""
        return await self.services.work.load_spec(source)
