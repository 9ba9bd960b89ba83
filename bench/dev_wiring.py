"""``hookline dev`` wired in-process against the same stack wired over gRPC.

    .venv/bin/python -m bench.dev_wiring [--duration 10] [--rounds 2] [--source REF]
        [--variants dev,in-process,grpc]

Three variants of ``hookline_launcher.stack.LocalStack``, each started alone in its own
process (uvloop, JSON logs to /dev/null, a throwaway SQLite database):

- ``dev``: ``hookline dev`` as a user first runs it, wired in-process with no Redis
  configured (runs queued and results delivered in the process);
- ``in-process``: the same wiring with the local Redis configured, so that runs go
  through the run stream and results through Redis, as in a deployment;
- ``grpc``: the services calling each other over gRPC streams on loopback, as
  ``hookline serve`` wires them, with the local Redis.

Each applies the lastNode workflow with saving off and is driven with ``wrk`` at c=1
and c=16 (``bench.load``). Rounds alternate the variants, so that the machine's drift
hits them alike.

``--source REF`` adds ``hookline dev`` as it was at REF (a clean export of that commit,
whatever its layout: before the in-process wiring, ``hookline dev`` called every
service over gRPC on loopback), measured in the same rounds: ``dev@REF`` with no Redis
and ``in-process@REF`` with Redis, for whichever of ``dev`` and ``in-process`` is
measured.
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
VARIANTS = {
    "dev": ("in-process", False),
    "in-process": ("in-process", True),
    "grpc": ("grpc", True),
}
"""Variant name → (``LocalStack`` wiring, whether Redis is configured)."""

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
try:
    from hookline_runtime.heap import settle_heap
except ImportError:  # before hookline dev settled its heap once started
    settle_heap = lambda: 0

async def main():
    settings = Settings(edge_addr="127.0.0.1:0", trigger_listen="127.0.0.1:0",
                        execution_listen="127.0.0.1:0", cache_listen="127.0.0.1:0")
    async with LocalStack(settings) as stack:
        settle_heap()
        print(stack.edge_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

configure_logging("info", "json")
uvloop.run(main())
"""
"""``hookline dev`` of an exported commit, started by ``_measure`` for ``--source``."""


def _serve(wiring: str) -> None:
    """Run a LocalStack with ``wiring`` until stdin closes; print its URL first."""
    import uvloop

    from hookline_launcher.stack import LocalStack
    from hookline_runtime.heap import settle_heap
    from hookline_runtime.logs import configure_logging
    from hookline_runtime.settings import Settings

    async def main() -> None:
        settings = Settings(
            edge_addr="127.0.0.1:0",
            trigger_listen="127.0.0.1:0",
            execution_listen="127.0.0.1:0",
            cache_listen="127.0.0.1:0",
        )
        async with LocalStack(settings, wiring=wiring) as stack:  # type: ignore[arg-type]
            settle_heap()  # as ``hookline dev`` does once started
            print(stack.edge_url, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    configure_logging("info", "json")
    uvloop.run(main())


def _measure(
    variant: str, duration: float, database: Path, source: CodeSource | None = None
) -> list[str]:
    wiring, with_redis = VARIANTS[variant.split("@", 1)[0]]
    env = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "REDIS_HOST")
    }
    env["HOOKLINE_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    if with_redis:
        env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    command = [sys.executable, "-m", "bench.dev_wiring", "--serve", wiring]
    cwd = ROOT
    if source is not None:  # hookline dev as it was at another commit
        command = [sys.executable, "-c", _SERVE_AT_REF]
        cwd = source.root
        env["PYTHONPATH"] = source.pythonpath
    with open(os.devnull, "w") as devnull:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=devnull,
            text=True,
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
                result = run_wrk(
                    variant,
                    f"{url}/webhook/{path}",
                    concurrency=concurrency,
                    duration_s=duration,
                    body=body,
                )
                rows.append(
                    f"| {variant} | {concurrency} | {result.rps:,.0f} | "
                    f"{result.p50_ms:.2f} ms | {result.p99_ms:.2f} ms | "
                    f"{result.requests - result.ok_2xx} |"
                )
            return rows
        finally:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=("in-process", "grpc"), help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--source", help="also measure hookline dev as it was at this ref")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, of {', '.join(VARIANTS)} (default: all)",
    )
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    print("| variant | c | req/s | p50 | p99 | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        source = stack.enter_context(CodeSource(args.source)) if args.source else None
        chosen = [name for name in args.variants.split(",") if name]
        unknown = sorted(set(chosen) - set(VARIANTS))
        if unknown:
            parser.error(f"unknown variants: {', '.join(unknown)}")
        at_source = [f"{name}@{args.source}" for name in chosen if name != "grpc"]
        variants: list[str] = [*chosen, *(at_source if source else [])]
        for round_ in range(args.rounds):
            for variant in variants if round_ % 2 == 0 else reversed(variants):
                at_ref = source if "@" in variant else None
                database = Path(tmp) / f"{variant.replace('@', '-')}-{round_}.db"
                for row in _measure(variant, args.duration, database, at_ref):
                    print(row, flush=True)


if __name__ == "__main__":
    main()
