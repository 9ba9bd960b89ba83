"""httpRequest nodes against a local HTTP server: any status is output; connection
failures, timeouts and oversized bodies fail the node with a clear message."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from .conftest import RunWorkflow
from .local_http import LocalHttpServer, Reply
from .workflows import node, workflow


async def test_a_json_response_is_parsed_and_header_names_are_lower_case(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    local_http.routes["/data"] = Reply(
        200, {"Content-Type": "application/json", "X-Thing": "1"}, b'{"items": [1, 2]}'
    )
    record = await run_workflow(
        workflow([node("Call", "httpRequest", url=local_http.url("/data"))])
    )
    output = record["nodes"]["Call"]["output"]
    assert output["statusCode"] == 200
    assert output["body"] == {"items": [1, 2]}
    assert output["headers"]["x-thing"] == "1"
    assert output["headers"]["content-type"] == "application/json"


async def test_a_text_response_stays_text(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    local_http.routes["/text"] = Reply(200, {"Content-Type": "text/plain"}, b"hello there")
    record = await run_workflow(
        workflow([node("Call", "httpRequest", url=local_http.url("/text"))])
    )
    assert record["nodes"]["Call"]["output"]["body"] == "hello there"


async def test_an_error_status_is_output_not_failure(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    data = workflow(
        [
            node("Call", "httpRequest", url=local_http.url("/missing")),
            node("Next", "set", values={"status": "{{ json.statusCode }}"}, keepOnlySet=True),
        ]
    )
    record = await run_workflow(data)
    assert record["status"] == "success"
    assert record["nodes"]["Call"]["output"]["statusCode"] == 404
    assert record["nodes"]["Call"]["output"]["body"] == "no route"
    assert record["nodes"]["Next"]["output"] == {"status": 404}


async def test_url_method_headers_and_json_body_are_templated(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    local_http.routes["/orders/42"] = Reply(201, {"Content-Type": "application/json"}, b"{}")
    data = workflow(
        [
            node(
                "Call",
                "httpRequest",
                url=local_http.url("/orders/{{ json.id }}") + "?q={{ json.q }}",
                method="{{ json.verb }}",
                headers={"X-Trace": "t-{{ json.id }}", "X-Count": "{{ json.id }}"},
                body={"id": "{{ json.id }}", "note": "order {{ json.id }}"},
            )
        ]
    )
    record = await run_workflow(data, {"id": 42, "q": "x", "verb": "put"})
    assert record["nodes"]["Call"]["output"]["statusCode"] == 201
    (sent,) = local_http.requests
    assert sent.method == "PUT"
    assert sent.target == "/orders/42?q=x"
    assert sent.headers["x-trace"] == "t-42"
    assert sent.headers["x-count"] == "42"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == {"id": 42, "note": "order 42"}


async def test_a_string_body_is_sent_as_text_and_node_headers_win(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    local_http.routes["/echo"] = Reply(204)
    data = workflow(
        [
            node(
                "Call",
                "httpRequest",
                url=local_http.url("/echo"),
                method="POST",
                body="name={{ json.name }}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        ]
    )
    record = await run_workflow(data, {"name": "Ada"})
    assert record["nodes"]["Call"]["output"]["statusCode"] == 204
    (sent,) = local_http.requests
    assert sent.body == b"name=Ada"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_closed_port_fails_the_node_with_connection_refused(
    run_workflow: RunWorkflow,
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x"
    data = workflow([node("Call", "httpRequest", url=url), node("Never", "set", values={})])
    record = await run_workflow(data)
    assert record["status"] == "error"
    assert record["error"] == {
        "node": "Call",
        "message": f'node "Call": request to {url} failed: connection refused',
    }
    assert "Never" not in record["nodes"]


async def test_a_slow_server_times_out_after_the_node_timeout(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    never = asyncio.Event()
    local_http.routes["/slow"] = Reply(200, body=b"late", hold=never)
    url = local_http.url("/slow")
    started = time.perf_counter()
    record = await run_workflow(
        workflow([node("Call", "httpRequest", url=url, timeoutSeconds=0.2)])
    )
    assert time.perf_counter() - started < 2
    assert record["error"] == {
        "node": "Call",
        "message": f'node "Call": request to {url} failed: timed out after 0.2s',
    }


async def test_a_response_over_the_size_cap_fails_the_node(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    big = b"x" * (100 * 1024)  # the engine fixture caps bodies at 64 KiB
    local_http.routes["/declared"] = Reply(200, body=big)
    local_http.routes["/streamed"] = Reply(200, body=big, declare_length=False)
    for path in ("/declared", "/streamed"):
        url = local_http.url(path)
        record = await run_workflow(workflow([node("Call", "httpRequest", url=url)]))
        assert record["error"] == {
            "node": "Call",
            "message": f'node "Call": response from {url} is larger than the limit of '
            f"{64 * 1024} bytes",
        }, path


async def test_an_unresolvable_host_fails_the_node_clearly(run_workflow: RunWorkflow) -> None:
    url = "http://no-such-host.invalid/x"
    record = await run_workflow(workflow([node("Call", "httpRequest", url=url)]))
    assert record["error"]["message"].startswith(f'node "Call": request to {url} failed: ')
