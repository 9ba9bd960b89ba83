"""Parsed workflows are reused while (id, updatedAt) stays the same."""

from __future__ import annotations

import pytest

from hookline_execution.domain import WorkflowCache
from hookline_runtime.errors import InvalidArgument

from .workflows import node, workflow


def test_the_same_workflow_version_is_parsed_once() -> None:
    cache = WorkflowCache()
    data = workflow([node("Shape", "set", values={})])
    assert cache.parse(data) is cache.parse(dict(data))


def test_a_new_updated_at_is_parsed_again() -> None:
    cache = WorkflowCache()
    data = workflow([node("Shape", "set", values={})])
    first = cache.parse(data)
    changed = {**data, "updatedAt": "2026-11-28T01:00:00Z", "name": "Renamed"}
    second = cache.parse(changed)
    assert second is not first
    assert second.name == "Renamed"


def test_a_workflow_without_id_is_never_cached() -> None:
    cache = WorkflowCache()
    data = workflow([node("Shape", "set", values={})])
    del data["id"]
    assert cache.parse(data) is not cache.parse(data)
    assert len(cache) == 0


def test_the_cache_is_bounded() -> None:
    cache = WorkflowCache(size=2)
    for _ in range(5):
        cache.parse(workflow([node("Shape", "set", values={})]))
    assert len(cache) == 2


def test_an_invalid_workflow_raises_and_is_not_cached() -> None:
    cache = WorkflowCache()
    bad = workflow([node("Shape", "nope")])
    with pytest.raises(InvalidArgument, match='node "Shape"'):
        cache.parse(bad)
    assert len(cache) == 0
