"""All four services in one process: what ``hookline dev`` runs and what the
whole-stack tests start (on port 0).

The services are started in dependency order — cache, execution, trigger, edge —
each one told the address the previous one actually bound, and stopped in reverse.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType

from runtime.settings import Settings

__all__ = ["LocalStack"]


class LocalStack:
    """``async with LocalStack(settings) as stack:`` then ``stack.edge_url``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._exit = AsyncExitStack()
        self.edge_url = ""
        self.cache_address = ""
        self.execution_address = ""
        self.trigger_address = ""

    async def __aenter__(self) -> LocalStack:
        # Imported here: the composition root is the only place that knows every service.
        from edge.server import EdgeServer
        from services.cache.server import CacheServer
        from services.execution.server import ExecutionServer
        from services.trigger.server import TriggerServer

        try:
            settings = self.settings
            cache = await self._exit.enter_async_context(CacheServer(settings))
            self.cache_address = cache.address
            settings = settings.model_copy(update={"cache_addr": cache.address})
            execution = await self._exit.enter_async_context(ExecutionServer(settings))
            self.execution_address = execution.address
            settings = settings.model_copy(update={"execution_addr": execution.address})
            trigger = await self._exit.enter_async_context(TriggerServer(settings))
            self.trigger_address = trigger.address
            settings = settings.model_copy(update={"trigger_addr": trigger.address})
            edge = await self._exit.enter_async_context(EdgeServer(settings))
            self.edge_url = edge.url
            self.settings = settings
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()
