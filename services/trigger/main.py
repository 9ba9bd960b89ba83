"""``hookline serve trigger``: run the trigger service until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

from runtime.logs import configure_logging
from runtime.settings import Settings
from services.trigger.server import TriggerServer

__all__ = ["main", "serve"]


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (default: until SIGTERM or SIGINT)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    async with TriggerServer(settings):
        await stop.wait()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
