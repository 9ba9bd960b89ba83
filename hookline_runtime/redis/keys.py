"""Every Redis key and name hookline uses, in one place (DESIGN.md sections 4 and 8).

Each key holds one execution's or one workflow's data, so no command ever spans two
hash slots: the layout works on Redis Cluster as it is.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "RUN_FIELD",
    "RUN_GROUP",
    "RUN_STREAM",
    "idempotency_key",
    "journal_key",
    "journal_meta_key",
    "lease_key",
    "result_key",
    "started_key",
]

RUN_STREAM = "hookline:runs"
"""The stream of runs waiting for an execution replica (default name)."""

RUN_GROUP = "execution"
"""The consumer group every execution replica reads the run stream through."""

RUN_FIELD = b"run"
"""The stream entry field holding the run (a serialized ``StartExecutionRequest``)."""


def journal_key(execution_id: str) -> str:
    """Hash of node name → that node's output (JSON), while the run goes on."""
    return f"hookline:journal:{execution_id}"


def journal_meta_key(execution_id: str) -> str:
    """Hash of node name → what a resumed run needs besides the output (the outputs it
    emitted on, its response, timing, tries), alongside ``journal_key``."""
    return f"hookline:journal-meta:{execution_id}"


def started_key(execution_id: str) -> str:
    """Marks a run another run started (a sub-workflow, an error workflow) as started,
    so that a repeat of the starting run does not start it twice."""
    return f"hookline:started:{execution_id}"


def result_key(execution_id: str) -> str:
    """The finished execution record (the spec's key)."""
    return f"execution:result:{execution_id}"


def idempotency_key(workflow_id: str, key: str) -> str:
    """Where an Idempotency-Key of a workflow is remembered. The client's key is hashed:
    it may hold any characters and up to 255 of them."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"hookline:idempotency:{workflow_id}:{digest}"


def lease_key(name: str, deployment: str) -> str:
    """A lease that lets one replica of a deployment at a time do job ``name``."""
    return f"hookline:lease:{name}:{deployment}"
