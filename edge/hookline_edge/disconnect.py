"""Waiting for something while the HTTP client may hang up.

``until_done_or_disconnected(awaitable, receive)`` runs the wait next to a listener for
the ASGI ``http.disconnect`` message. When the client goes first the wait is
cancelled (for a result watch: the gRPC stream is cancelled; the run itself goes on
elsewhere) and ``ClientDisconnected`` is raised, which callers answer quietly.
Call it only after the request body has been read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from litestar.types import Receive

__all__ = ["ClientDisconnected", "until_done_or_disconnected"]

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The HTTP client hung up before the answer was ready."""


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        continue


async def until_done_or_disconnected(work: Awaitable[T], receive: Receive) -> T:
    """``await work`` (a coroutine, or a task already running), unless the client
    disconnects first: then ``work`` is cancelled and ``ClientDisconnected`` raised."""
    work_task = asyncio.ensure_future(work)
    listener = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({work_task, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work_task, listener):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work_task.cancelled():
        raise ClientDisconnected
    return work_task.result()
