"""A tiny HTTP/1.1 server on 127.0.0.1:0 for httpRequest tests: routes answer
canned replies, can hold a reply until released, and every request is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = ["LocalHttpServer", "Reply", "Request"]


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hold: asyncio.Event | None = None
    """When set, the reply waits for this event (a slow server)."""
    declare_length: bool = True


class LocalHttpServer:
    def __init__(self) -> None:
        self.routes: dict[str, Reply | Callable[[Request], Reply]] = {}
        self.requests: list[Request] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def request_to(self, path: str, timeout: float = 5.0) -> Request:
        """The first request for ``path`` (waits for it to arrive)."""

        def find() -> Request | None:
            return next((r for r in self.requests if r.target.split("?")[0] == path), None)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    async def wait_for_count(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` requests have arrived."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, target, headers, body)
            async with self._arrived:
                self.requests.append(request)
                self._arrived.notify_all()
            route = self.routes.get(target.split("?")[0], Reply(404, body=b"no route"))
            reply = route(request) if callable(route) else route
            if reply.hold is not None:
                await reply.hold.wait()
            out = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
            out += [f"{k}: {v}" for k, v in reply.headers.items()]
            if reply.declare_length:
                out.append(f"Content-Length: {len(reply.body)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, asyncio.CancelledError):
                pass
