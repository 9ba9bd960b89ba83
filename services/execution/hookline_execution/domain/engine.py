"""The engine: runs a workflow's nodes in topological order and fills the record.

A node runs when at least one incoming connection is active (its source ran and
emitted on that connection's output; a node may emit on several, or on none); its
``json`` is the output of the last active parent in topological order — except a
``merge``, which takes every active parent (``nodes.merge_input``). Parents come
first in the order, so a merge runs once every branch that was not skipped has
finished. A node with no active incoming connection is skipped.

Around each node run (``_run_node``, which holds the time and size limits) go the
node settings: ``forEach`` runs it per element and ``retry`` per try
(``attempts``); ``onError`` decides what a failure does. A failure under ``stop``
ends the run: the nodes after it are left out.

Each node that runs is one trace span, ``node <name>``, with the attributes
``hookline.execution_id``, ``hookline.node`` and ``hookline.node_type`` (nothing while
tracing is off: ``hookline_runtime.tracing``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from hookline_execution.domain.attempts import NodeFailed, Sleep, for_each, with_retry
from hookline_execution.domain.credentials import CredentialSource
from hookline_execution.domain.expressions import RenderError, RenderTimeout, TemplateRenderer
from hookline_execution.domain.journal import Checkpoint, JournaledNode
from hookline_execution.domain.nodes import (
    HANDLERS,
    REPLAYABLE,
    NodeContext,
    NodeError,
    NodeResult,
    WorkflowCaller,
    merge_input,
)
from hookline_execution.domain.record import (
    ERROR,
    SKIPPED,
    SUCCESS,
    ExecutionRecord,
    NodeRun,
    TryRun,
)
from hookline_runtime.clock import utcnow
from hookline_runtime.logs import get_logger
from hookline_runtime.tracing import EXECUTION_ID, NODE, NODE_TYPE, mark_failed, span
from hookline_runtime.workflow import Connection, Node, Workflow
from hookline_runtime.workflow.node_settings import ERROR_OUTPUT

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
SELF_BOUNDED = frozenset({"wait", "httpRequest", "executeWorkflow"})
"""Node types bounded by their own parameters (seconds, timeoutSeconds; a child run by
its own responseTimeoutSeconds), not by the node time limit."""

ResponseHook = Callable[[dict[str, Any]], None]
_MAIN = frozenset(("main",))


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
        sleep: Sleep = asyncio.sleep,
        credentials: CredentialSource | None = None,
    ) -> None:
        """``max_output_bytes``: a node whose output (JSON) is larger fails;
        ``node_timeout_seconds``: a node that computes longer fails (rendering its
        parameters always counts; the nodes in ``SELF_BOUNDED`` wait as long as their
        own parameters say); ``sleep``: how the engine waits between retries."""
        self._sleep = sleep
        self._renderer = renderer
        self._http = http
        self._max_response_bytes = max_response_bytes
        self._max_output_bytes = max_output_bytes
        self._node_timeout = node_timeout_seconds
        self._credentials = credentials  # for httpRequest's ``credential``

    async def run(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        trigger_output: Any,
        on_first_response: ResponseHook | None = None,
        checkpoint: Checkpoint | None = None,
        calls: WorkflowCaller | None = None,
    ) -> None:
        """Run every node, filling ``record``, and finish it (success or error).

        ``calls`` starts the workflows executeWorkflow nodes name (None: they fail).

        With a ``checkpoint``, nodes it lists as done are taken from it instead of
        running again. A node with effects starts once everything finished before it
        is saved, and is saved itself before the next node starts; replayable nodes
        are held until then (``hookline_execution.domain.journal``).

        When cancelled, the node in progress is recorded as an error ("cancelled") and
        the cancellation goes on; finishing the record is then the caller's job.
        """
        done = checkpoint.done if checkpoint is not None else {}
        resuming = bool(done)
        outputs: dict[str, Any] = {}
        emitted: dict[str, frozenset[str]] = {}
        position = {name: i for i, name in enumerate(workflow.order)}
        execution = {"id": record.id, "workflowId": record.workflow_id, "mode": record.mode}
        responded = False
        for name in workflow.order:
            node = workflow.nodes[name]
            started = utcnow()
            if node.is_trigger:
                outputs[name] = trigger_output
                emitted[name] = _MAIN
                record.nodes[name] = NodeRun(SUCCESS, started, 0.0, trigger_output)
                continue
            active = [
                c for c in workflow.incoming[name] if c.output in emitted.get(c.source, ())
            ]
            if not active:
                record.nodes[name] = NodeRun(SKIPPED, started)
                continue
            journaled = done.get(name)
            if journaled is not None:
                result = journaled.result()
                record.nodes[name] = journaled.node_run()
            else:
                if resuming:
                    resuming = False
                    log.info("Run resumed", node=name, finished_nodes=len(done))
                early_answer = node.type == "httpResponse" and on_first_response is not None
                replayable = node.type in REPLAYABLE and not early_answer
                if checkpoint is not None and not replayable and not early_answer:
                    # A node whose effects happen while it runs starts on a journal that
                    # holds everything before it. (An early answer goes out only once
                    # its entry, with those before it, is written: below.)
                    await checkpoint.save()
                input = _input_of(node, active, outputs, position)
                settled = await self._settle(node, input, outputs, execution, record, calls)
                node_run = record.nodes[name]
                if settled is None:
                    record.fail(name, node_run.error or "failed", utcnow())
                    return
                result = settled
                if checkpoint is not None:
                    entry = JournaledNode.of(node_run, result)
                    if replayable:
                        checkpoint.hold(name, entry)
                    else:
                        await checkpoint.save(name, entry)
            outputs[name] = result.output
            emitted[name] = result.emitted
            if result.response is not None:
                record.response = result.response
                if not responded and on_first_response is not None:
                    on_first_response(result.response)
                responded = True
        record.succeed(utcnow())

    async def _settle(
        self,
        node: Node,
        input: Any,
        outputs: dict[str, Any],
        execution: dict[str, str],
        record: ExecutionRecord,
        calls: WorkflowCaller | None = None,
    ) -> NodeResult | None:
        """Run one node with its settings, time it and put it in the record; None when
        it failed and its ``onError`` is ``stop`` (the caller then fails the run)."""
        settings = node.settings
        started = utcnow()
        clock = time.perf_counter()
        tries: list[TryRun] = []
        shown = tries if settings.retry is not None else None
        scope = {"json": input, "nodes": outputs, "execution": execution}

        def noted(status: str, output: Any = None, error: str | None = None) -> NodeRun:
            elapsed = (time.perf_counter() - clock) * 1000
            run = NodeRun(status, started, elapsed, output, error, shown)
            record.nodes[node.name] = run
            return run

        attributes = {EXECUTION_ID: record.id, NODE: node.name, NODE_TYPE: node.type}
        with span(f"node {node.name}", attributes):
            try:
                result = await self._repeat(node, input, scope, tries, calls)
            except NodeFailed as failure:
                mark_failed(failure.message)
                if settings.onError == "stop":
                    noted(ERROR, None, failure.message)
                    return None
                output = {"error": {"message": failure.message, "node": node.name}}
                noted(SUCCESS, output, failure.message)
                emit = "main" if settings.onError == "continue" else ERROR_OUTPUT
                return NodeResult(output, emit)
            except asyncio.CancelledError:
                noted(ERROR, None, "cancelled")
                raise
            noted(SUCCESS, result.output)
            return result

    async def _repeat(
        self,
        node: Node,
        input: Any,
        scope: dict[str, Any],
        tries: list[TryRun],
        calls: WorkflowCaller | None = None,
    ) -> NodeResult:
        """The node run, per ``forEach`` element and per ``retry`` try."""
        settings = node.settings
        label = f'node "{node.name}"'

        def key(index: int | None) -> str:
            """Names the coming try of this node (or of one element of it)."""
            done = sum(1 for one in tries if one.index == index)
            return f"{node.name}\x00{'' if index is None else index}\x00{done + 1}"

        if settings.forEach is None:
            return await with_retry(
                lambda: self._run_node(node, input, scope, None, calls, key(None)),
                settings.retry,
                tries,
                sleep=self._sleep,
            )
        items = await self._items(node, scope, label)

        async def one(index: int, item: Any) -> NodeResult:
            each = {**scope, "item": item, "index": index}
            return await with_retry(
                lambda: self._run_node(
                    node, input, each, f"{label} item {index}", calls, key(index)
                ),
                settings.retry, tries, sleep=self._sleep, index=index,
            )

        results = await for_each(items, settings.forEachConcurrency, one)
        output = [result.output for result in results]
        response = next((r.response for r in reversed(results) if r.response is not None), None)
        self._check_size(label, output, response)
        emit = frozenset().union(*(r.emitted for r in results)) if results else "main"
        return NodeResult(output, emit, response)

    async def _items(self, node: Node, scope: Mapping[str, Any], label: str) -> list[Any]:
        """The list a node's ``forEach`` gives."""
        try:
            items = await self._renderer.render_async(
                node.settings.forEach, scope, timeout=self._node_timeout
            )
        except RenderError as exc:
            raise NodeFailed(f"{label} forEach: {exc.message}") from None
        except RenderTimeout:
            raise NodeFailed(f"{label} timed out after {self._node_timeout:g} s") from None
        if not isinstance(items, list):
            raise NodeFailed(f"{label} forEach: must give a list, got {type(items).__name__}")
        return items

    async def _run_node(
        self,
        node: Node,
        input: Any,
        scope: dict[str, Any],
        label: str | None = None,
        calls: WorkflowCaller | None = None,
        call_key: str = "",
    ) -> NodeResult:
        """One run of one node within the node time and output size limits; ``label``
        names it in errors (default ``node "Name"``); ``call_key`` names this try of
        it for a child run it starts."""
        label = label or f'node "{node.name}"'
        handler = HANDLERS.get(node.type)
        if handler is None:  # parse_workflow admits only known types
            raise NodeFailed(f"{label}: node type {node.type!r} cannot run")
        limit = self._node_timeout
        timed_out = f"{label} timed out after {limit:g} s"
        started = time.monotonic()
        try:
            params = await self._renderer.render_async(node.parameters, scope, timeout=limit)
        except RenderError as exc:
            raise NodeFailed(f"{label} parameter {exc.path}: {exc.message}") from None
        except RenderTimeout:
            raise NodeFailed(timed_out) from None
        ctx = NodeContext(
            self._http,
            self._max_response_bytes,
            node.parameters,
            self._credentials,
            calls,
            call_key or node.name,
        )
        bound: asyncio.Timeout | None = None
        try:
            if node.type in SELF_BOUNDED or node.type in REPLAYABLE:
                # Bounded by their own parameters, or computing only: a replayable
                # node's handler never awaits, so a timeout could not interrupt it
                # (its templates were bounded as they rendered, above).
                result = await handler(params, input, ctx)
            else:
                async with asyncio.timeout(max(limit - (time.monotonic() - started), 0)) as bound:
                    result = await handler(params, input, ctx)
        except TimeoutError:
            if bound is not None and bound.expired():
                raise NodeFailed(timed_out) from None
            log.exception("node failed unexpectedly", node=node.name, node_type=node.type)
            raise NodeFailed(f"{label}: internal error (TimeoutError)") from None
        except NodeError as exc:
            raise NodeFailed(exc.message if exc.bare else f"{label}: {exc.message}") from None
        except Exception as exc:
            log.exception("node failed unexpectedly", node=node.name, node_type=node.type)
            raise NodeFailed(f"{label}: internal error ({type(exc).__name__})") from None
        self._check_size(label, result.output, result.response)
        return result

    def _check_size(self, label: str, output: Any, response: dict[str, Any] | None) -> None:
        """NodeFailed when what a node produced is over the output size limit."""
        # What the node produced (its output and the response it marks), as JSON. Data
        # too deep to encode is left to the record's own encoding, which reports it.
        try:
            encoded = json.dumps(
                [output, response],
                separators=(",", ":"),
                ensure_ascii=False,
                default=str,
            )
        except RecursionError:
            encoded = ""
        size = len(encoded.encode("utf-8", errors="surrogatepass"))
        if size > self._max_output_bytes:
            raise NodeFailed(
                f"{label}: output is {size} bytes, over the limit of {self._max_output_bytes} "
                "(HOOKLINE_MAX_NODE_OUTPUT_BYTES)"
            )


def _input_of(
    node: Node, active: Sequence[Connection], outputs: Mapping[str, Any], position: Mapping[str, int]
) -> Any:
    """A node's ``json``: the last active parent's output; for a merge, every active
    parent's, combined by its mode."""
    if node.type == "merge":
        return merge_input(node.params, [(c.source, outputs[c.source]) for c in active])
    source = max((c.source for c in active), key=position.__getitem__)
    return outputs[source]
