"""Modules here need *a* TriggerServer, not one of their own: ``trigger`` and
``fake_execution`` are the module's shared server (no Redis) and its fake
ExecutionService, the fake's record cleared before each test (``shared_trigger``).

Each module sets ``pytestmark = pytest.mark.asyncio(loop_scope="module")``: the shared
server lives on the module's event loop."""

from __future__ import annotations

import pytest

from ..conftest import FakeExecution, SharedTrigger, TriggerStub


@pytest.fixture
def trigger(shared_trigger: SharedTrigger) -> TriggerStub:
    """A stub to the module's TriggerServer."""
    return shared_trigger.stub


@pytest.fixture
def fake_execution(shared_trigger: SharedTrigger) -> FakeExecution:
    """The module's fake ExecutionService, its record cleared."""
    return shared_trigger.execution
