"""The wrk Lua script against a real local HTTP server: status counting and percentiles."""

from __future__ import annotations

import http.server
import itertools
import shutil
import threading
from collections.abc import Iterator

import pytest

from bench.load import run_wrk

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = itertools.count()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status = 500 if next(self.counter) % 4 == 0 else 201
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_counts_every_answer_as_2xx_or_not_and_reports_ordered_percentiles(echo_url: str) -> None:
    result = run_wrk("echo", echo_url, concurrency=2, duration_s=1, body='{"name": "x"}')

    assert result.requests > 10
    assert result.ok_2xx + result.non_2xx == result.requests
    assert result.statuses["500"] == result.non_2xx > 0
    assert result.statuses["201"] == result.ok_2xx
    assert result.errors == result.non_2xx
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert result.rps == pytest.approx(result.requests / result.duration_s)
