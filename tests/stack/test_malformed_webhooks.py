"""A malformed-webhook corpus against the whole stack (edge, trigger, execution, cache;
Redis): every case gets a clear 4xx with an ``{error, message}`` JSON body (408/431
from the edge's protocol limits are JSON too), never a 5xx and never a hang: each call
has a bounded client timeout, and the server is asked for a normal answer afterwards.

The bounds are the ones in ``hookline_runtime.strict_json`` (depth, numbers, encodings,
surrogates) and ``hookline_edge.http_limits`` (header size and count, header and body read
timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from hookline_launcher.stack import LocalStack
from tests.edge.conftest import edge_stack_settings
from tests.edge.test_stack_edge import create, greeter

pytestmark = pytest.mark.asyncio(loop_scope="module")

Unique = Callable[[str], str]

CLIENT_TIMEOUT = 10.0
READ_TIMEOUT = 1.0
JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


CORPUS: dict[str, tuple[bytes, dict[str, str]]] = {
    "truncated": (b'{"a": [1, 2', JSON),
    "single-quotes": (b"{'a': 1}", JSON),
    "trailing-comma": (b'{"a": 1,}', JSON),
    "two-documents": (b'{"a": 1} {"b": 2}', JSON),
    "bare-word": (b"hello", JSON),
    "invalid-utf8": (b'{"a": "\xff\xfe\xc3"}', JSON),
    "overlong-utf8": (b'{"a": "\xc0\xaf"}', JSON),
    "utf16-without-bom": ('{"a": "b"}'.encode("utf-16-le"), JSON),
    "utf16-be-without-bom": ('{"a": "b"}'.encode("utf-16-be"), JSON),
    "lone-surrogate-escape": (b'{"a": "\\ud800"}', JSON),
    "lone-low-surrogate-escape": (b'{"a": "x\\udfffy"}', JSON),
    "surrogate-as-utf8-bytes": (b'{"a": "\xed\xa0\x80"}', JSON),
    "nested-100": (nested(100), JSON),
    "nested-1000": (nested(1_000), JSON),
    "nested-100000": (nested(100_000), JSON),
    "arrays-100000": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "float-1e999": (b'{"a": 1e999}', JSON),
    "float-minus-1e999": (b'{"a": -1e999}', JSON),
    "integer-5000-digits": (b'{"a": ' + b"9" * 5000 + b"}", JSON),
    "nan": (b'{"a": NaN}', JSON),
    "infinity": (b"Infinity", JSON),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[LocalStack]:
    settings = edge_stack_settings(
        tmp_path_factory.mktemp("malformed"),
        redis_url,
        max_body_bytes=1024 * 1024,
        edge_read_timeout_seconds=READ_TIMEOUT,
    )
    async with LocalStack(settings) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=CLIENT_TIMEOUT) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hook(http: httpx.AsyncClient) -> str:
    """A lastNode webhook (the run's answer is awaited: a crash would show)."""
    path = "malformed-corpus"
    await create(http, greeter(path, "Malformed corpus"))
    return f"/webhook/{path}"


def assert_clear_refusal(resp: httpx.Response, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert resp.status_code in statuses, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


async def assert_still_serving(http: httpx.AsyncClient, hook: str) -> None:
    resp = await http.post(hook, json={"name": "Ada"})
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize("case", list(CORPUS))
async def test_a_malformed_json_body_is_a_clear_400(
    http: httpx.AsyncClient, hook: str, case: str
) -> None:
    content, headers = CORPUS[case]
    resp = await http.post(hook, content=content, headers=headers)
    body = assert_clear_refusal(resp, (400,))
    assert "x-execution-id" not in resp.headers, body
    await assert_still_serving(http, hook)


async def test_nesting_within_the_limit_is_not_refused(http: httpx.AsyncClient, hook: str) -> None:
    resp = await http.post(hook, content=nested(10), headers=JSON)
    assert resp.status_code == 201, resp.text


async def test_a_form_body_with_bad_percent_escapes_is_not_a_5xx(
    http: httpx.AsyncClient, hook: str
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = await http.post(hook, content=b"a=%ff%fe&b=%zz&%%%", headers=form)
    assert resp.status_code < 500, resp.text
    await assert_still_serving(http, hook)


async def raw_exchange(stack: LocalStack, chunks: list[bytes], pause: float = 0.0) -> bytes:
    """Send ``chunks`` (``pause`` seconds apart) on one connection while reading the
    answer until the server closes it (all bounded by ``CLIENT_TIMEOUT``)."""
    address = urlsplit(stack.edge_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)  # the trickle itself, not a wait for a signal

    sender = asyncio.create_task(send())
    answer = b""
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            with contextlib.suppress(ConnectionError):
                answer = await reader.readline()
                while chunk := await reader.read(65536):
                    answer += chunk
    finally:
        sender.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await writer.wait_closed()
    return answer


def parse_answer(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


async def test_one_huge_header_is_431(stack: LocalStack, hook: str) -> None:
    request = (
        f"POST {hook} HTTP/1.1\r\nHost: x\r\nX-Big: ".encode()
        + b"a" * (1024 * 1024)
        + b"\r\nContent-Length: 2\r\n\r\n{}"
    )
    status, body = parse_answer(await raw_exchange(stack, [request]))
    assert status == 431
    assert body["error"] == "request_header_fields_too_large" and body["message"]


async def test_ten_thousand_headers_are_431(stack: LocalStack, hook: str) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    request = f"POST {hook} HTTP/1.1\r\nHost: x\r\n".encode() + headers + b"\r\n"
    status, body = parse_answer(await raw_exchange(stack, [request]))
    assert status == 431 and body["message"]


async def test_headers_trickled_slower_than_the_read_timeout_are_408(
    stack: LocalStack, hook: str
) -> None:
    request = f"POST {hook} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
    chunks = [request[i : i + 4] for i in range(0, len(request), 4)]
    pause = 2 * READ_TIMEOUT / len(chunks) * 2  # the whole head takes 4x the timeout
    raw = await raw_exchange(stack, chunks, pause=pause)
    status, body = parse_answer(raw)
    assert status == 408
    assert body["error"] == "request_timeout" and body["message"]


async def test_a_body_that_stalls_is_cut_off_without_a_5xx(
    stack: LocalStack, http: httpx.AsyncClient, hook: str
) -> None:
    head = f"POST {hook} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request = (head + "Content-Length: 1000\r\n\r\n").encode() + b'{"a": "'
    raw = await raw_exchange(stack, [request, b"x"], pause=3 * READ_TIMEOUT)
    if raw:  # the edge may close without a word; if it answers, it is no 5xx
        assert parse_answer(raw)[0] < 500, raw[:300]
    await assert_still_serving(http, hook)
