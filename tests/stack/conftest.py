"""Whole-stack fixtures: the four services in this process (LocalStack) on free ports."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=redis_url)) as running:
        yield running


@pytest.fixture
async def client(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http:
        yield http


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog
