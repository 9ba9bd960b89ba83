"""The engine: runs a workflow's nodes in topological order and fills the record.

A node runs when at least one incoming connection is active (its source ran and
emitted on that connection's output); its ``json`` is the output of the last active
parent in topological order. A node with no active incoming connection is skipped.
The first node that fails ends the run: the nodes after it are left out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from runtime.clock import utcnow
from runtime.logs import get_logger
from runtime.workflow import Node, Workflow
from services.execution.domain.expressions import RenderError, RenderTimeout, TemplateRenderer
from services.execution.domain.journal import Checkpoint, JournaledNode
from services.execution.domain.nodes import HANDLERS, NodeContext, NodeError, NodeResult
from services.execution.domain.record import ERROR, SKIPPED, SUCCESS, ExecutionRecord, NodeRun

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_NODE_TIMEOUT_SECONDS",
    "SELF_BOUNDED",
    "Engine",
]

log = get_logger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024
DEFAULT_NODE_TIMEOUT_SECONDS = 30.0
SELF_BOUNDED = frozenset({"wait", "httpRequest"})
"""Node types bounded by their own parameters (seconds, timeoutSeconds), not by the
node time limit."""

ResponseHook = Callable[[dict[str, Any]], None]


class _Failed(Exception):
    """A node failed with this (already formatted) message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Engine:
    """Runs workflows; one per process, shared by every run."""

    def __init__(
        self,
        renderer: TemplateRenderer,
        http: httpx.AsyncClient,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        node_timeout_seconds: float = DEFAULT_NODE_TIMEOUT_SECONDS,
    ) -> None:
        """``max_output_bytes``: a node whose output (JSON) is larger fails;
        ``node_timeout_seconds``: a node that computes longer fails (rendering its
        parameters always counts; the nodes in ``SELF_BOUNDED`` wait as long as their
        own parameters say)."""
        self._renderer = renderer
        self._http = http
        self._max_response_bytes = max_response_bytes
        self._max_output_bytes = max_output_bytes
        self._node_timeout = node_timeout_seconds

    async def run(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        trigger_output: Any,
        on_first_response: ResponseHook | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        """Run every node, filling ``record``, and finish it (success or error).

        With a ``checkpoint``, nodes it lists as done are taken from it instead of
        running again, and each node that succeeds is saved to it before the next
        one starts.

        When cancelled, the node in progress is recorded as an error ("cancelled") and
        the cancellation goes on; finishing the record is then the caller's job.
        """
        done = checkpoint.done if checkpoint is not None else {}
        resuming = bool(done)
        outputs: dict[str, Any] = {}
        emitted: dict[str, str] = {}
        position = {name: i for i, name in enumerate(workflow.order)}
        execution = {"id": record.id, "workflowId": record.workflow_id, "mode": record.mode}
        responded = False
        for name in workflow.order:
            node = workflow.nodes[name]
            started = utcnow()
            if node.is_trigger:
                outputs[name] = trigger_output
                emitted[name] = "main"
                record.nodes[name] = NodeRun(SUCCESS, started, 0.0, trigger_output)
                continue
            parents = [
                c.source for c in workflow.incoming[name] if emitted.get(c.source) == c.output
            ]
            if not parents:
                record.nodes[name] = NodeRun(SKIPPED, started)
                continue
            journaled = done.get(name)
            if journaled is not None:
                result = NodeResult(journaled.output, journaled.emit, journaled.response)
                record.nodes[name] = journaled.node_run()
            else:
                if resuming:
                    resuming = False
                    log.info("Run resumed", node=name, finished_nodes=len(done))
                source = max(parents, key=position.__getitem__)
                ran = await self._run_recorded(node, outputs[source], outputs, execution, record)
                if ran is None:
                    return
                result, node_run = ran
                record.nodes[name] = node_run
                if checkpoint is not None:
                    await checkpoint.save(
                        name,
                        JournaledNode(
                            node_run.started_at,
                            node_run.duration_ms,
                            result.output,
                            result.emit,
                            result.response,
                        ),
                    )
            outputs[name] = result.output
            emitted[name] = result.emit
            if result.response is not None:
                record.response = result.response
                if not responded and on_first_response is not None:
                    on_first_response(result.response)
                responded = True
        record.succeed(utcnow())

    async def _run_recorded(
        self,
        node: Node,
        input: Any,
        outputs: dict[str, Any],
        execution: dict[str, str],
        record: ExecutionRecord,
    ) -> tuple[NodeResult, NodeRun] | None:
        """Run one node and time it; None when it failed (the record is then failed)."""
        name = node.name
        started = utcnow()
        clock = time.perf_counter()
        scope = {"json": input, "nodes": outputs, "execution": execution}
        try:
            result = await self._run_node(node, input, scope)
        except _Failed as failure:
            elapsed = (time.perf_counter() - clock) * 1000
            record.nodes[name] = NodeRun(ERROR, started, elapsed, None, failure.message)
            record.fail(name, failure.message, utcnow())
            return None
        except asyncio.CancelledError:
            elapsed = (time.perf_counter() - clock) * 1000
            record.nodes[name] = NodeRun(ERROR, started, elapsed, None, "cancelled")
            raise
        elapsed = (time.perf_counter() - clock) * 1000
        return result, NodeRun(SUCCESS, started, elapsed, result.output)

    async def _run_node(self, node: Node, input: Any, scope: dict[str, Any]) -> NodeResult:
        label = f'node "{node.name}"'
        handler = HANDLERS.get(node.type)
        if handler is None:  # parse_workflow admits only known types
            raise _Failed(f"{label}: node type {node.type!r} cannot run")
        limit = self._node_timeout
        timed_out = f"{label} timed out after {limit:g} s"
        started = time.monotonic()
        try:
            params = await self._renderer.render_async(node.parameters, scope, timeout=limit)
        except RenderError as exc:
            raise _Failed(f"{label} parameter {exc.path}: {exc.message}") from None
        except RenderTimeout:
            raise _Failed(timed_out) from None
        ctx = NodeContext(self._http, self._max_response_bytes, node.parameters)
        bound: asyncio.Timeout | None = None
        try:
            if node.type in SELF_BOUNDED:
                result = await handler(params, input, ctx)
            else:
                async with asyncio.timeout(max(limit - (time.monotonic() - started), 0)) as bound:
                    result = await handler(params, input, ctx)
        except TimeoutError:
            if bound is not None and bound.expired():
                raise _Failed(timed_out) from None
            log.exception("node failed unexpectedly", node=node.name, node_type=node.type)
            raise _Failed(f"{label}: internal error (TimeoutError)") from None
        except NodeError as exc:
            raise _Failed(exc.message if exc.bare else f"{label}: {exc.message}") from None
        except Exception as exc:
            log.exception("node failed unexpectedly", node=node.name, node_type=node.type)
            raise _Failed(f"{label}: internal error ({type(exc).__name__})") from None
        # What the node produced (its output and the response it marks), as JSON. Data
        # too deep to encode is left to the record's own encoding, which reports it.
        try:
            encoded = json.dumps(
                [result.output, result.response],
                separators=(",", ":"),
                ensure_ascii=False,
                default=str,
            )
        except RecursionError:
            encoded = ""
        size = len(encoded.encode("utf-8", errors="surrogatepass"))
        if size > self._max_output_bytes:
            raise _Failed(
                f"{label}: output is {size} bytes, over the limit of {self._max_output_bytes} "
                "(HOOKLINE_MAX_NODE_OUTPUT_BYTES)"
            )
        return result
