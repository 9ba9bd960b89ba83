"""A real ExecutionServer on port 0, called through a real gRPC channel, handing its
results to a fake cache service that records them."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import grpc
import pytest
from hookline.execution.v1 import execution_service_pb2 as pb

from .conftest import StartExecution, logged
from .fake_cache import FakeCache
from .local_http import LocalHttpServer, Reply
from .workflows import node, workflow

pytestmark = pytest.mark.timeout(30)


def _slow(seconds: float, **kwargs: Any) -> dict[str, Any]:
    return workflow(
        [
            node("Shape", "set", values={"n": "{{ json.n * 2 }}"}),
            node("Pause", "wait", seconds=seconds),
        ],
        **kwargs,
    )


async def test_start_returns_at_once_and_the_result_goes_to_the_cache_with_the_ttl(
    start_execution: StartExecution,
) -> None:
    running = await start_execution()
    data = _slow(0.3, ttl=120)
    execution_id = await running.start(data, {"n": 21})
    # StartExecution answered while the run is still waiting.
    assert execution_id not in running.cache.results
    record = await running.cache.result(execution_id)
    assert record["status"] == "success"
    assert record["id"] == execution_id
    assert record["workflowId"] == data["id"]
    assert record["mode"] == "manual"
    assert record["nodes"]["Shape"]["output"] == {"n": 42}
    assert running.cache.results[execution_id][0][1] == 120


def _held(local_http: LocalHttpServer, **kwargs: Any) -> tuple[dict[str, Any], asyncio.Event]:
    """A workflow whose "Call" node waits on the local server until the event is set."""
    release = asyncio.Event()
    local_http.routes["/hold"] = Reply(200, body=b"released", hold=release)
    data = workflow(
        [
            node("Shape", "set", values={"n": "{{ json.n * 2 }}"}),
            node("Call", "httpRequest", url=local_http.url("/hold"), timeoutSeconds=30),
        ],
        **kwargs,
    )
    return data, release


async def _saved_record(running: Any, execution_id: str, *, finished: bool = False) -> Any:
    """GetExecution once the row exists — and with ``finished``, once it holds the final
    record, which is written just after the cache gets it (bounded: 5 s)."""
    for _ in range(500):
        try:
            got = await running.stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id)
            )
            if not finished or json.loads(got.record_json)["status"] != "running":
                return got
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {'final' if finished else 'running'} row for {execution_id}")


async def test_a_saved_run_has_a_running_row_then_the_final_record_in_design_shape(
    start_execution: StartExecution, local_http: LocalHttpServer
) -> None:
    running = await start_execution()
    data, release = _held(local_http, save=True)
    execution_id = await running.start(data, {"n": 1})

    await local_http.request_to("/hold")  # the run is inside its "Call" node
    # The running row is written alongside the run (not before it), so on a busy
    # machine it may land a moment after the run reaches the node.
    during = await _saved_record(running, execution_id)
    assert json.loads(during.record_json)["status"] == "running"
    assert json.loads(during.record_json)["finishedAt"] is None
    release.set()

    cached = await running.cache.result(execution_id)
    got = await _saved_record(running, execution_id, finished=True)
    saved = json.loads(got.record_json)
    assert saved == cached
    # The same bytes went to the database and to the cache.
    assert got.record_json == running.cache.results[execution_id][0][0]
    assert saved["status"] == "success" and saved["error"] is None and saved["response"] is None
    assert list(saved["nodes"]) == ["Start", "Shape", "Call"]
    assert set(saved["nodes"]["Call"]) == {"status", "output", "startedAt", "durationMs"}
    assert saved["nodes"]["Call"]["output"]["body"] == "released"
    assert saved["workflowName"] == data["name"]
    assert running.saved_rows(workflow_id=data["id"]) == 1


async def test_with_saving_off_no_row_is_ever_written_and_the_skip_is_logged(
    start_execution: StartExecution,
    caplog: pytest.LogCaptureFixture,
    local_http: LocalHttpServer,
) -> None:
    caplog.set_level(logging.INFO)
    running = await start_execution()
    data, release = _held(local_http, save=False)
    execution_id = await running.start(data, {"n": 1})
    # Not while it runs...
    await local_http.request_to("/hold")
    with pytest.raises(grpc.aio.AioRpcError) as during:
        await running.stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    assert during.value.code() == grpc.StatusCode.NOT_FOUND
    assert running.saved_rows(workflow_id=data["id"]) == 0
    release.set()
    # ...nor after; the result is still delivered.
    record = await running.cache.result(execution_id)
    assert record["status"] == "success"
    assert running.saved_rows(workflow_id=data["id"]) == 0
    assert running.saved_rows(id=execution_id) == 0
    assert logged(caplog, "Skipping database save for execution", execution_id=execution_id)


async def test_a_saved_run_does_not_log_the_skip(
    start_execution: StartExecution, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    running = await start_execution()
    execution_id = await running.start(_slow(0, save=True), {"n": 1})
    await running.cache.result(execution_id)
    assert not logged(caplog, "Skipping database save for execution", execution_id=execution_id)


async def test_a_repeated_start_for_the_same_id_runs_once(
    start_execution: StartExecution,
) -> None:
    running = await start_execution()
    data = _slow(0.2, save=True)
    execution_id = await running.start(data, {"n": 1})
    await running.start(data, {"n": 2}, execution_id=execution_id)  # while running
    await running.cache.result(execution_id)
    await running.start(data, {"n": 3}, execution_id=execution_id)  # after it finished
    await running.stop()  # waits for every run in flight
    assert len(running.cache.results[execution_id]) == 1
    record = json.loads(running.cache.results[execution_id][0][0])
    assert record["nodes"]["Shape"]["output"] == {"n": 2}  # the first call's input, doubled
    assert running.saved_rows(workflow_id=data["id"]) == 1


async def test_runs_beyond_the_concurrency_limit_queue_without_blocking_start(
    start_execution: StartExecution,
) -> None:
    running = await start_execution(max_concurrent_executions=1)
    data = _slow(0.2, save=False)
    first = await running.start(data, {"n": 1})
    second = await running.start(data, {"n": 2})  # answers although no slot is free
    assert not running.cache.results
    a = await running.cache.result(first)
    b = await running.cache.result(second)
    assert b["startedAt"] >= a["finishedAt"]


async def test_an_invalid_workflow_is_refused_naming_the_node(
    start_execution: StartExecution,
) -> None:
    running = await start_execution()
    bad = workflow([node("Broken", "set", values="not an object")])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.start(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'node "Broken"' in (caught.value.details() or "")

    with pytest.raises(grpc.aio.AioRpcError) as not_json:
        await running.stub.StartExecution(
            pb.StartExecutionRequest(execution_id="x", workflow_json=b"{nope"), timeout=5
        )
    assert not_json.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_get_of_an_unknown_execution_is_not_found(start_execution: StartExecution) -> None:
    running = await start_execution()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.GetExecution(pb.GetExecutionRequest(execution_id="no-such-id"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_pages_newest_first_and_filters_by_workflow_and_status(
    start_execution: StartExecution,
) -> None:
    running = await start_execution()
    ok = workflow([node("Shape", "set", values={})], save=True)
    failing = workflow([node("Stop", "stopAndError", message="no")], save=True)
    ok_ids = []
    # The cache gets each record first, the database right after: wait for the rows.
    for _ in range(3):
        ok_ids.append(await running.start(ok))
        await _saved_record(running, ok_ids[-1], finished=True)
    failed_id = await running.start(failing)
    await _saved_record(running, failed_id, finished=True)

    first = await running.stub.ListExecutions(
        pb.ListExecutionsRequest(workflow_id=ok["id"], limit=2)
    )
    assert [json.loads(r)["id"] for r in first.records_json] == ok_ids[:0:-1]
    assert first.next_cursor
    rest = await running.stub.ListExecutions(
        pb.ListExecutionsRequest(workflow_id=ok["id"], limit=2, cursor=first.next_cursor)
    )
    assert [json.loads(r)["id"] for r in rest.records_json] == [ok_ids[0]]
    assert rest.next_cursor == ""

    errors = await running.stub.ListExecutions(
        pb.ListExecutionsRequest(status=pb.EXECUTION_STATUS_ERROR, limit=100)
    )
    assert [json.loads(r)["id"] for r in errors.records_json] == [failed_id]
    default = await running.stub.ListExecutions(pb.ListExecutionsRequest())
    assert len(default.records_json) == 4


@pytest.mark.parametrize(
    "request_",
    [
        pb.ListExecutionsRequest(limit=101),
        pb.ListExecutionsRequest(limit=-1),
        pb.ListExecutionsRequest(cursor="garbage!"),
        pb.ListExecutionsRequest(status=99),  # type: ignore[arg-type]
    ],
)
async def test_list_refuses_a_bad_limit_cursor_or_status(
    start_execution: StartExecution, request_: pb.ListExecutionsRequest
) -> None:
    running = await start_execution()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.ListExecutions(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_early_response_is_handed_over_while_the_run_goes_on(
    start_execution: StartExecution,
) -> None:
    running = await start_execution()
    data = workflow(
        [
            node("Reply", "httpResponse", statusCode=202, body={"accepted": "{{ json.n }}"}),
            node("Pause", "wait", seconds=0.3),
            node("Later", "httpResponse", statusCode=200, body="done"),
        ],
        ttl=30,
    )
    execution_id = await running.start(data, {"n": 7}, early=True)
    response = await running.cache.response(execution_id)
    assert response == {"statusCode": 202, "headers": {}, "body": {"accepted": 7}}
    assert execution_id not in running.cache.results  # the run is still waiting
    assert running.cache.responses[execution_id][0][1] == 30
    record = await running.cache.result(execution_id)
    assert record["response"]["body"] == "done"  # the last one that ran
    assert [kind for kind, eid in running.cache.events if eid == execution_id] == [
        "response",
        "result",
    ]
    assert len(running.cache.responses[execution_id]) == 1


async def test_no_early_response_is_sent_unless_asked(start_execution: StartExecution) -> None:
    running = await start_execution()
    data = workflow([node("Reply", "httpResponse", body="hi")])
    execution_id = await running.start(data, early=False)
    await running.cache.result(execution_id)
    assert execution_id not in running.cache.responses


async def test_a_record_the_cache_refuses_as_too_large_becomes_a_small_error_record(
    start_execution: StartExecution, fake_cache: FakeCache
) -> None:
    fake_cache.max_record_bytes = 4000
    running = await start_execution()
    data = workflow(
        [node("Big", "set", values={"blob": "{{ 'x' * 6000 }}"}), node("Tail", "set", values={})],
        save=True,
    )
    execution_id = await running.start(data)
    record = await running.cache.result(execution_id)
    assert record["status"] == "error"
    assert record["error"]["node"] == "Tail"
    assert "too large" in record["error"]["message"]
    assert record["nodes"]["Big"] == {**record["nodes"]["Big"], "status": "success", "output": None}
    saved = await _saved_record(running, execution_id, finished=True)
    assert json.loads(saved.record_json) == record


async def test_a_record_over_the_local_cap_is_never_sent_whole(
    start_execution: StartExecution,
) -> None:
    running = await start_execution(max_result_bytes=2048)
    data = workflow([node("Big", "set", values={"blob": "{{ 'x' * 5000 }}"})], save=False)
    execution_id = await running.start(data)
    record = await running.cache.result(execution_id)
    assert record["status"] == "error"
    assert "too large" in record["error"]["message"]
    assert len(running.cache.results[execution_id][0][0]) < 2048


async def test_an_unreachable_cache_does_not_stop_the_saved_record(
    start_execution: StartExecution, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_execution(cache_addr="127.0.0.1:1")
    data = _slow(0, save=True)
    execution_id = await running.start(data, {"n": 1})
    await running.stop()  # waits for the run
    assert running.saved_rows(id=execution_id, status="success") == 1
    assert logged(caplog, "could not hand the result to the cache service")


async def test_shutdown_lets_an_in_flight_run_finish(start_execution: StartExecution) -> None:
    running = await start_execution(shutdown_grace_seconds=5)
    data = _slow(0.3, save=True)
    execution_id = await running.start(data, {"n": 1})
    await running.stop()
    record = json.loads(running.cache.results[execution_id][0][0])
    assert record["status"] == "success"
    assert running.saved_rows(id=execution_id, status="success") == 1


async def test_a_run_outlasting_the_grace_ends_as_an_error_at_shutdown(
    start_execution: StartExecution, local_http: LocalHttpServer
) -> None:
    running = await start_execution(shutdown_grace_seconds=0.1)
    data, _never = _held(local_http, save=True)
    execution_id = await running.start(data, {"n": 1})
    await local_http.request_to("/hold")  # the run is inside its "Call" node
    await running.stop()
    record = json.loads(running.cache.results[execution_id][0][0])
    assert record["status"] == "error"
    assert record["error"] == {"node": "Call", "message": "execution service shut down"}
    assert record["nodes"]["Call"]["status"] == "error"
    assert record["nodes"]["Shape"]["status"] == "success"
    assert running.saved_rows(id=execution_id, status="error") == 1


async def test_starts_are_refused_once_shutdown_begins(start_execution: StartExecution) -> None:
    running = await start_execution()
    await running.stop()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.start(_slow(0))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
