"""The rules that turn an execution record or an httpResponse node's response into
the webhook's HTTP answer (pure functions, no servers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Response

from hookline_edge.errors import EdgeError
from hookline_edge.paging import page_json
from hookline_edge.rendering import render_node_response, render_record


def headers_of(response: Response[Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def test_no_body_statuses_send_no_body_even_when_the_node_gives_one() -> None:
    response = render_node_response({"statusCode": 204, "body": {"a": 1}}, "e1")
    assert response.status_code == 204
    assert response.content == b""


def test_framing_headers_from_the_node_are_dropped_and_values_become_strings() -> None:
    response = render_node_response(
        {"statusCode": 200, "headers": {"Content-Length": "999", "X-Count": 3}, "body": "hi"},
        "e1",
    )
    headers = headers_of(response)
    assert "content-length" not in headers
    assert headers["x-count"] == "3"
    assert headers["x-execution-id"] == "e1"


def test_a_node_content_type_wins_over_json_for_objects() -> None:
    response = render_node_response(
        {"headers": {"Content-Type": "application/vnd.api+json"}, "body": {"a": "é"}}, "e1"
    )
    assert response.status_code == 200
    assert headers_of(response)["content-type"] == "application/vnd.api+json"
    assert json.loads(response.content) == {"a": "é"}


def test_numbers_and_booleans_are_json() -> None:
    response = render_node_response({"statusCode": 200, "body": 42}, "e1")
    assert response.content == b"42"
    assert headers_of(response)["content-type"] == "application/json"


def test_a_failure_without_a_node_still_names_the_execution() -> None:
    with pytest.raises(EdgeError) as caught:
        render_record({"status": "error", "error": "engine stopped"}, "e9")
    assert caught.value.status == 500
    assert caught.value.body() == {
        "error": "execution_failed",
        "message": "engine stopped",
        "executionId": "e9",
        "node": None,
    }
    assert caught.value.headers == {"X-Execution-Id": "e9"}


def test_a_record_where_nothing_succeeded_answers_null() -> None:
    response = render_record({"status": "success", "nodes": {}, "response": None}, "e1")
    assert response.status_code == 200
    assert response.content == b"null"


def test_pages_are_spliced_from_the_documents_bytes() -> None:
    body = page_json([b'{"id": 1}', b'{"id":  2}'], "")
    assert body == b'{"data":[{"id": 1},{"id":  2}],"nextCursor":null}'
    assert json.loads(page_json([], "c/1"))["nextCursor"] == "c/1"
