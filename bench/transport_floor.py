"""What one message between two processes costs: the floor under CPU per request at c=1.

``python -m bench.transport_floor [--round-trips 3000] [--size 200] [--batch 16]``

Two processes on loopback, both on uvloop as every hookline process is. The client
sends a message and waits for the server to send it back, ``--round-trips`` times in a
row (nothing else runs: every message is a wake-up of its own, as at c=1), over

- a ``grpc.aio`` bidirectional stream carrying one item per message (how a lone
  webhook's calls travel between hookline's services);
- the same stream carrying ``--batch`` items per message (how they travel at c=16,
  where the items ready together share a message);
- a bare asyncio TCP connection (no gRPC: the wake-ups and system calls alone).

and prints the CPU time both processes spent per round trip, and per item. The
payloads are bytes, so no protobuf work is counted. A lastNode webhook at c=1 makes
three such round trips between services (edge ↔ trigger, execution ↔ cache, and the
edge's watch: its subscribe and the result) and five with Redis; the difference
between the first and the second line, times three, is what gRPC's per-message work
adds at c=1 and not at c=16.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import uvloop

_METHOD = "/bench.Echo/Stream"
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid``, from /proc: this tool needs nothing
    beyond the services' own packages, so the test suite can run it."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def _serve(grpc_port: int, tcp_port: int) -> None:
    async def echo(requests: AsyncIterator[bytes], _: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        async for message in requests:
            yield message

    server = grpc.aio.server()
    handler = grpc.stream_stream_rpc_method_handler(echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Stream": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()

    async def echo_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(4), "big")
                writer.write(size.to_bytes(4, "big") + await reader.readexactly(size))
        except asyncio.IncompleteReadError:
            writer.close()

    tcp = await asyncio.start_server(echo_tcp, "127.0.0.1", tcp_port)
    print("ready", flush=True)
    async with tcp:
        await server.wait_for_termination()


@dataclass(frozen=True)
class Floor:
    transport: str
    items_per_message: int
    wall_us: float
    client_cpu_us: float
    server_cpu_us: float

    @property
    def cpu_per_item_us(self) -> float:
        return (self.client_cpu_us + self.server_cpu_us) / self.items_per_message


async def _timed(
    name: str, items: int, server_pid: int, round_trips: int, once: Callable[[], Awaitable[None]]
) -> Floor:
    for _ in range(min(200, round_trips)):  # warm up: connections, code paths
        await once()
    me = os.getpid()
    client, server, start = _cpu_seconds(me), _cpu_seconds(server_pid), time.perf_counter()
    for _ in range(round_trips):
        await once()
    wall = time.perf_counter() - start
    per = 1e6 / round_trips
    return Floor(
        name,
        items,
        wall * per,
        (_cpu_seconds(me) - client) * per,
        (_cpu_seconds(server_pid) - server) * per,
    )


async def _measure(args: argparse.Namespace, server_pid: int, grpc_port: int, tcp_port: int) -> list[Floor]:
    floors = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        for items in (1, args.batch):
            call = channel.stream_stream(_METHOD)()
            message = b"x" * (args.size * items)

            async def grpc_once(call: grpc.aio.StreamStreamCall = call, message: bytes = message) -> None:
                await call.write(message)
                if await call.read() != message:
                    raise RuntimeError("the echo server sent back something else")

            floors.append(await _timed("grpc.aio stream", items, server_pid, args.round_trips, grpc_once))
            await call.done_writing()
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
    framed = args.size.to_bytes(4, "big") + b"x" * args.size

    async def tcp_once() -> None:
        writer.write(framed)
        await reader.readexactly(len(framed))

    floors.append(await _timed("asyncio TCP", 1, server_pid, args.round_trips, tcp_once))
    writer.close()
    return floors


def _table(floors: list[Floor]) -> str:
    lines = [
        "| transport | items per message | wall per round trip | CPU per round trip (client + server) | CPU per item |",
        "|---|---:|---:|---:|---:|",
    ]
    for f in floors:
        lines.append(
            f"| {f.transport} | {f.items_per_message} | {f.wall_us:.0f} µs | "
            f"{f.client_cpu_us:.0f} + {f.server_cpu_us:.0f} µs | {f.cpu_per_item_us:.0f} µs |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--size", type=int, default=200, help="bytes per item")
    parser.add_argument("--batch", type=int, default=16, help="items per message, second line")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("GRPC_PORT", "TCP_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uvloop.run(_serve(*args.serve))
        return
    from bench.processes import free_port

    grpc_port, tcp_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.transport_floor", "--serve", str(grpc_port), str(tcp_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the echo server did not start")
        floors = uvloop.run(_measure(args, server.pid, grpc_port, tcp_port))
    finally:
        server.kill()
        server.wait()
    print(_table(floors))


if __name__ == "__main__":
    main()
