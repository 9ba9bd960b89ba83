"""``hookline dev`` wired in-process against the same stack wired over gRPC.

    .venv/bin/python -m bench.dev_wiring [--duration 10] [--rounds 2]

For each wiring of ``hookline_launcher.stack.LocalStack`` (``in-process``: what ``hookline dev``
runs; ``grpc``: the services calling each other over gRPC streams on loopback, as
``hookline serve`` wires them), starts the stack alone in its own process (uvloop,
JSON logs to /dev/null, the local Redis, a throwaway SQLite database), applies the
lastNode workflow with saving off, and drives it with ``wrk`` at c=1 and c=16
(``bench.load``). Rounds alternate the wirings, so that the machine's drift hits both.

``--source REF`` adds ``hookline dev`` as it was at REF (a clean export of that commit,
whatever its layout: before the in-process wiring, ``hookline dev`` called every
service over gRPC on loopback), measured in the same rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from bench.load import run_wrk
from bench.source import CodeSource
from bench.workflows import _greeter

ROOT = Path(__file__).resolve().parent.parent
WIRINGS = ("in-process", "grpc")

_SERVE_AT_REF = """
import asyncio, os, sys
import uvloop
if os.path.isdir("runtime"):  # before the launcher had a package of its own
    from runtime.stack import LocalStack
    from runtime.logs import configure_logging
    from runtime.settings import Settings
else:
    from hookline_launcher.stack import LocalStack
    from hookline_runtime.logs import configure_logging
    from hookline_runtime.settings import Settings

async def main():
    settings = Settings(edge_addr="127.0.0.1:0", trigger_listen="127.0.0.1:0",
                        execution_listen="127.0.0.1:0", cache_listen="127.0.0.1:0")
    async with LocalStack(settings) as stack:
        print(stack.edge_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

configure_logging("info", "json")
uvloop.run(main())
"""
"""``hookline dev`` of an exported commit, started by ``_measure`` for ``--source``."""


def _serve(wiring: str) -> None:
    """Run a LocalStack with ``wiring`` until stdin closes; print its URL first."""
    import uvloop

    from hookline_runtime.logs import configure_logging
    from hookline_runtime.settings import Settings
    from hookline_launcher.stack import LocalStack

    async def main() -> None:
        settings = Settings(edge_addr="127.0.0.1:0", trigger_listen="127.0.0.1:0",
                            execution_listen="127.0.0.1:0", cache_listen="127.0.0.1:0")
        async with LocalStack(settings, wiring=wiring) as stack:  # type: ignore[arg-type]
            print(stack.edge_url, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    configure_logging("info", "json")
    uvloop.run(main())


def _measure(
    wiring: str, duration: float, database: Path, source: CodeSource | None = None
) -> list[str]:
    env = {**os.environ, "HOOKLINE_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}
    command = [sys.executable, "-m", "bench.dev_wiring", "--serve", wiring]
    cwd = ROOT
    if source is not None:  # hookline dev as it was at another commit
        command = [sys.executable, "-c", _SERVE_AT_REF]
        cwd = source.root
        env["PYTHONPATH"] = source.pythonpath
    with open(os.devnull, "w") as devnull:
        process = subprocess.Popen(
            command, cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=devnull, text=True,
        )
        try:
            assert process.stdout is not None and process.stdin is not None
            url = process.stdout.readline().strip()
            path = f"bench-{uuid.uuid4().hex[:8]}"
            workflow = _greeter(f"dev-wiring-{path}", path, mode="lastNode", save=False)
            httpx.post(f"{url}/api/v1/workflows", json=workflow, timeout=10).raise_for_status()
            body = '{"name":"Ada"}'
            run_wrk("warm-up", f"{url}/webhook/{path}", concurrency=4, duration_s=2, body=body)
            rows = []
            for concurrency in (1, 16):
                result = run_wrk(wiring, f"{url}/webhook/{path}", concurrency=concurrency,
                                 duration_s=duration, body=body)
                rows.append(f"| {wiring} | {concurrency} | {result.rps:,.0f} | "
                            f"{result.p50_ms:.2f} ms | {result.p99_ms:.2f} ms | "
                            f"{result.requests - result.ok_2xx} |")
            return rows
        finally:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=WIRINGS, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--source", help="also measure hookline dev as it was at this ref")
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    print("| wiring | c | req/s | p50 | p99 | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        source = stack.enter_context(CodeSource(args.source)) if args.source else None
        wirings: list[str] = [*WIRINGS, *([f"dev@{args.source}"] if source else [])]
        for round_ in range(args.rounds):
            for wiring in wirings if round_ % 2 == 0 else reversed(wirings):
                at_ref = source if wiring.startswith("dev@") else None
                database = Path(tmp) / f"{wiring.replace('@', '-')}-{round_}.db"
                for row in _measure(wiring, args.duration, database, at_ref):
                    print(row, flush=True)


if __name__ == "__main__":
    main()
