"""The ``hookline`` command.

    hookline dev                                   all four services in one process
    hookline serve {edge|trigger|execution|cache}  one service
    hookline apply FILE... [--url URL]             create or update workflows by name
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from hookline_runtime.heap import settle_heap
from hookline_runtime.logs import configure_logging, get_logger
from hookline_runtime.settings import Settings

__all__ = ["dev_settings", "main"]

log = get_logger("hookline")

SERVICES = ("edge", "trigger", "execution", "cache")


def _server_factory(service: str) -> Callable[[Settings], AbstractAsyncContextManager[Any]]:
    if service == "edge":
        from hookline_edge.server import EdgeServer

        return EdgeServer
    if service == "trigger":
        from hookline_trigger.server import TriggerServer

        return TriggerServer
    if service == "execution":
        from hookline_execution.server import ExecutionServer

        return ExecutionServer
    from hookline_cache.server import CacheServer

    return CacheServer


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (about twice as fast for gRPC and HTTP
    round trips as the default loop, measured with bench/), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(main)
        return
    uvloop.run(main)


@contextlib.asynccontextmanager
async def _stop_signal() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _run(settings: Settings, server: AbstractAsyncContextManager[Any], name: str) -> None:
    async with _stop_signal() as stop, server:
        frozen = settle_heap()
        log.info("hookline started", mode=name, frozen_objects=frozen)
        await stop.wait()
        log.info("hookline stopping", mode=name, grace_seconds=settings.shutdown_grace_seconds)
    log.info("hookline stopped", mode=name)


def dev_settings(settings: Settings) -> Settings:
    """``hookline dev`` lets httpRequest reach private and loopback addresses (local
    testing stays easy) unless HOOKLINE_HTTP_ALLOW_PRIVATE says otherwise."""
    if "http_allow_private" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"http_allow_private": True})


def _dev(settings: Settings) -> None:
    from hookline_launcher.stack import LocalStack

    settings = dev_settings(settings)
    if settings.http_allow_private:
        log.warning(
            "hookline dev: httpRequest may reach private, loopback and link-local "
            "addresses; set HOOKLINE_HTTP_ALLOW_PRIVATE=false to refuse them as "
            "'hookline serve' does"
        )
    if not settings.redis_configured:
        log.warning(
            "No Redis configured: execution results are delivered in-process "
            "(single server only). Set REDIS_URL or REDIS_HOST for multi-server delivery."
        )
    else:
        log.info("Execution results go through Redis", redis=_redacted(settings))
    log.info("Database", url=_redacted_db(settings.database_url))
    settings = _dev_encryption_key(settings)
    with _tracing("hookline-dev", settings):
        _run_loop(_run(settings, LocalStack(settings), "dev"))


def _dev_encryption_key(settings: Settings) -> Settings:
    """Without HOOKLINE_ENCRYPTION_KEY, ``hookline dev`` keeps credentials' key in a
    file beside its database, and says so."""
    from hookline_launcher.dev_encryption_key import with_dev_key

    dev = with_dev_key(settings)
    if dev.path is not None and dev.created:
        log.warning(
            "No HOOKLINE_ENCRYPTION_KEY: created an encryption key file for credentials; "
            "keep it with the database (credentials cannot be read without it)",
            path=str(dev.path),
        )
    elif dev.path is not None:
        log.info("Credentials use the encryption key file", path=str(dev.path))
    return dev.settings


def _serve(settings: Settings, service: str) -> None:
    factory = _server_factory(service)
    with _tracing(f"hookline-{service}", settings):
        _run_loop(_run(settings, factory(settings), service))


@contextlib.contextmanager
def _tracing(service_name: str, settings: Settings) -> Iterator[None]:
    """This process's tracer provider while it runs, when OTEL_EXPORTER_OTLP_ENDPOINT is
    set (installed before any server, channel or app is built); flushed at the end."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        yield
        return
    from hookline_runtime.trace_provider import configure_tracing

    provider = configure_tracing(service_name, endpoint)
    log.info("Tracing on: spans go to the OTLP endpoint", service=service_name, endpoint=endpoint)
    try:
        yield
    finally:
        if provider is not None:
            provider.shutdown()


def _redacted(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.effective_redis_url or "").render_as_string(hide_password=True)


def _redacted_db(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run all four services in one process")
    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    apply = sub.add_parser("apply", help="create or update workflows from JSON or YAML files")
    apply.add_argument("files", nargs="+", metavar="FILE")
    apply.add_argument("--url", help="edge URL (default: http://$HOOKLINE_EDGE_ADDR)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.command == "apply":
        from hookline_launcher.apply import apply_files

        url = args.url or f"http://{settings.edge_addr}"
        return apply_files(args.files, url=url, api_key=settings.api_key)
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "dev":
        _dev(settings)
    else:
        _serve(settings, args.service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
