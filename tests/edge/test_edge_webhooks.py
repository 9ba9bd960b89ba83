"""The webhook route's HTTP mapping, against fake trigger and cache services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from hookline.cache.v1 import cache_service_pb2 as cache_pb
from hookline.trigger.v1 import trigger_service_pb2 as trig_pb

from tests.edge.edge_fakes import TIMED_OUT, FakeUpstreams, response_event, result_event

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

pytestmark = pytest.mark.asyncio(loop_scope="module")


def waiting(
    fakes: FakeUpstreams,
    mode: trig_pb.ResponseMode.ValueType,
    *,
    timeout: int = 5,
    save: bool = True,
) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        response_mode=mode, response_timeout_seconds=timeout, save_execution=save
    )


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x",
        "workflowId": "w",
        "mode": "webhook",
        "status": "success",
        "nodes": {},
        "response": None,
        "error": None,
    }
    return {**base, **fields}


async def test_on_received_answers_started_with_the_execution_id_at_once(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    resp = await client.post("/webhook/greet", content=b'{"name": "Ada"}')
    assert resp.status_code == 200
    execution_id = resp.headers["x-execution-id"]
    assert resp.json() == {"executionId": execution_id, "status": "started"}
    assert fakes.cache.watch_requests == []
    assert fakes.trigger.webhook_requests[0].execution_id == execution_id


async def test_the_trigger_gets_method_path_headers_query_and_raw_body(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    body = b'{"name": "Ada",   "odd": [1,2]}'
    resp = await client.put(
        "/webhook/team/greet/?a=1&a=2&empty=",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": "abc"},
    )
    assert resp.status_code == 200
    (sent,) = fakes.trigger.webhook_requests
    assert sent.method == "PUT"
    assert sent.path == "team/greet"
    assert sent.body == body
    assert [(q.name, q.value) for q in sent.query] == [("a", "1"), ("a", "2"), ("empty", "")]
    headers = {h.name.lower(): h.value for h in sent.headers}
    assert headers["x-signature"] == "abc"
    assert headers["content-type"] == "application/json"
    assert sent.execution_id


async def test_unknown_webhook_path_is_404_json(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        rejection=trig_pb.WEBHOOK_REJECTION_NOT_FOUND, rejection_message="no webhook at nope"
    )
    resp = await client.get("/webhook/nope")
    assert resp.status_code == 404
    assert resp.json() == {"error": "not_found", "message": "no webhook at nope"}
    assert "x-execution-id" not in resp.headers


async def test_wrong_method_is_405_with_allow(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        rejection=trig_pb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED, allowed_methods=["GET", "PUT"]
    )
    resp = await client.delete("/webhook/greet")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, PUT"
    assert resp.json()["error"] == "method_not_allowed"
    assert resp.json()["message"]


async def test_failed_webhook_auth_is_401(client: httpx.AsyncClient, fakes: FakeUpstreams) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        rejection=trig_pb.WEBHOOK_REJECTION_UNAUTHORIZED
    )
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized"


async def test_unparseable_body_is_400(client: httpx.AsyncClient, fakes: FakeUpstreams) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        rejection=trig_pb.WEBHOOK_REJECTION_INVALID_BODY, rejection_message="invalid JSON"
    )
    resp = await client.post(
        "/webhook/greet", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_body", "message": "invalid JSON"}


async def test_body_over_the_limit_is_413_json_and_starts_nothing(
    make_client: MakeClient, fakes: FakeUpstreams
) -> None:
    async with make_client(max_body_bytes=1000) as client:
        ok = await client.post("/webhook/greet", content=b"x" * 1000)
        too_big = await client.post("/webhook/greet", content=b"x" * 1001)
    assert ok.status_code == 200
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "payload_too_large"
    assert too_big.json()["message"]
    assert len(fakes.trigger.webhook_requests) == 1


async def test_last_node_answers_with_the_http_response_node(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE, timeout=7, save=False)
    fakes.cache.events = [
        result_event(
            record(
                response={
                    "statusCode": 201,
                    "headers": {"X-Greeter": "1"},
                    "body": {"message": "Hello Ada"},
                }
            )
        )
    ]
    resp = await client.post("/webhook/greet", json={"name": "Ada"})
    assert resp.status_code == 201
    assert resp.headers["x-greeter"] == "1"
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"message": "Hello Ada"}
    (watch,) = fakes.cache.watch_requests
    assert resp.headers["x-execution-id"] == watch.execution_id
    assert watch.timeout_ms == 7000
    assert watch.accept_early_response is False
    assert watch.saved_to_database is False


async def test_a_string_body_is_plain_text_unless_the_node_sets_content_type(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [result_event(record(response={"statusCode": 200, "body": "héllo"}))]
    plain = await client.post("/webhook/greet")
    fakes.cache.events = [
        result_event(
            record(
                response={
                    "statusCode": 202,
                    "headers": {"content-TYPE": "text/html; charset=utf-8"},
                    "body": "<b>hi</b>",
                }
            )
        )
    ]
    html = await client.post("/webhook/greet")
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "text/plain; charset=utf-8"
    assert plain.text == "héllo"
    assert html.status_code == 202
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.text == "<b>hi</b>"


async def test_a_null_or_empty_body_is_an_empty_response(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    for body in (None, ""):
        fakes.cache.events = [
            result_event(
                record(
                    response={
                        "statusCode": 200,
                        "headers": {"X-Empty": "yes"},
                        "body": body,
                    }
                )
            )
        ]
        resp = await client.post("/webhook/greet")
        assert resp.status_code == 200
        assert resp.content == b""
        assert resp.headers["x-empty"] == "yes"


async def test_without_a_response_node_the_last_successful_output_is_json(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [
        result_event(
            record(
                nodes={
                    "Hook": {"status": "success", "output": {"body": {}}},
                    "Shape": {"status": "success", "output": {"greeting": "Hello"}},
                    "Branch": {"status": "skipped", "output": None},
                }
            )
        )
    ]
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"greeting": "Hello"}
    assert resp.headers["x-execution-id"]


async def test_a_failed_execution_is_500_naming_the_node(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [
        result_event(
            record(
                status="error",
                error={"node": "Fail", "message": "boom"},
                response={"statusCode": 201, "body": "ignored"},
            )
        )
    ]
    resp = await client.post("/webhook/greet")
    execution_id = resp.headers["x-execution-id"]
    assert resp.status_code == 500
    assert resp.json() == {
        "error": "execution_failed",
        "executionId": execution_id,
        "node": "Fail",
        "message": "boom",
    }


async def test_response_node_answers_with_the_early_response(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_RESPONSE_NODE)
    fakes.cache.events = [response_event({"statusCode": 202, "headers": {}, "body": [1, 2]})]
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 202
    assert resp.json() == [1, 2]
    # The last watch is the one that answered (an earlier one may have been opened early
    # on the strength of this path's previous call, and dropped).
    assert fakes.cache.watch_requests[-1].accept_early_response is True


async def test_response_node_without_one_answers_like_last_node(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_RESPONSE_NODE)
    fakes.cache.events = [
        result_event(record(nodes={"Hook": {"status": "success", "output": {"a": 1}}}))
    ]
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 200
    assert resp.json() == {"a": 1}


async def test_no_result_in_time_is_504_with_the_execution_id(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [TIMED_OUT]
    resp = await client.post("/webhook/greet")
    execution_id = resp.headers["x-execution-id"]
    assert resp.status_code == 504
    body = resp.json()
    assert body["error"] == "timeout"
    assert body["executionId"] == execution_id
    assert execution_id in body["message"]


async def test_a_watch_that_outlives_its_deadline_is_504_not_a_hang(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE, timeout=1)
    fakes.cache.hang = True
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 504
    assert resp.json()["error"] == "timeout"
    await asyncio.wait_for(fakes.cache.watch_cancelled.wait(), 5)  # the stream ended there too


async def test_an_unreachable_cache_is_503_json(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    waiting(own_fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    await own_fakes.cache_server.stop(0)
    async with make_client(own_fakes) as client:
        resp = await client.post("/webhook/greet")
    assert resp.status_code == 503
    body = resp.json()
    assert body["error"] == "unavailable"
    assert body["executionId"] == resp.headers["x-execution-id"]
    assert "127.0.0.1" not in body["message"]


async def test_a_cache_that_goes_away_while_waiting_is_503(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    waiting(own_fakes, trig_pb.RESPONSE_MODE_LAST_NODE, timeout=30)
    own_fakes.cache.hang = True
    async with make_client(own_fakes) as client:
        request = asyncio.create_task(client.post("/webhook/greet"))
        await asyncio.wait_for(own_fakes.cache.watching.wait(), 5)
        await own_fakes.cache_server.stop(0)
        resp = await asyncio.wait_for(request, 10)
    assert resp.status_code == 503
    assert resp.json()["error"] == "unavailable"


async def test_an_unreachable_trigger_is_503_with_a_general_message(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.main.stop(0)
    async with make_client(own_fakes) as client:
        resp = await client.post("/webhook/greet")
    assert resp.status_code == 503
    assert resp.json()["error"] == "unavailable"
    assert "127.0.0.1" not in json.dumps(resp.json())


async def test_an_unreadable_result_is_500_naming_the_execution(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [
        cache_pb.WatchResultResponse(event=cache_pb.WATCH_EVENT_RESULT, record_json=b"{oops")
    ]
    resp = await client.post("/webhook/greet")
    assert resp.status_code == 500
    assert resp.json()["error"] == "internal"
    assert resp.json()["executionId"] == resp.headers["x-execution-id"]


async def test_a_waiting_path_opens_its_result_watch_while_the_run_is_being_started(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [
        result_event(record(response={"statusCode": 201, "headers": {}, "body": "ok"}))
    ]
    first = await client.post("/webhook/speculate")  # learns that this path waits
    assert first.status_code == 201
    fakes.cache.reset()
    fakes.cache.events = [
        result_event(record(response={"statusCode": 201, "headers": {}, "body": "ok"}))
    ]

    async def reply_only_once_watched() -> None:
        await asyncio.wait_for(fakes.cache.watching.wait(), timeout=5)

    fakes.trigger.before_webhook_reply = reply_only_once_watched
    second = await client.post("/webhook/speculate")

    assert second.status_code == 201
    assert [w.execution_id for w in fakes.cache.watch_requests] == [
        fakes.trigger.webhook_requests[-1].execution_id
    ]


async def test_an_early_watch_is_dropped_when_the_path_stops_waiting(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    waiting(fakes, trig_pb.RESPONSE_MODE_LAST_NODE)
    fakes.cache.events = [
        result_event(record(response={"statusCode": 200, "headers": {}, "body": "ok"}))
    ]
    assert (await client.post("/webhook/changes")).status_code == 200
    fakes.cache.reset()
    fakes.cache.hang = True  # the early watch would wait forever
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        response_mode=trig_pb.RESPONSE_MODE_ON_RECEIVED
    )

    async def reply_only_once_watched() -> None:
        # Otherwise the edge may drop the watch before it reaches the cache at all.
        await asyncio.wait_for(fakes.cache.watching.wait(), timeout=5)

    fakes.trigger.before_webhook_reply = reply_only_once_watched

    resp = await client.post("/webhook/changes")

    assert resp.status_code == 200
    assert resp.json()["status"] == "started"
    await asyncio.wait_for(fakes.cache.watch_cancelled.wait(), timeout=5)
