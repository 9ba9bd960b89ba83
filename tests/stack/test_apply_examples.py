"""``hookline apply examples/*`` against a running stack: every example applies
(credentials first), applying again updates in place, and the GitHub example answers
a signed push through its switch."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from hookline_launcher.apply import apply_files
from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings

pytestmark = pytest.mark.timeout(90)

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[2] / "examples").iterdir())


@pytest.fixture
async def stack(
    make_settings: Callable[..., Settings], redis_url: str
) -> AsyncIterator[LocalStack]:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings = make_settings(redis_url=redis_url, encryption_key=key)
    async with LocalStack(settings) as running:
        yield running


async def test_every_example_applies_and_the_github_one_answers(
    stack: LocalStack, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(apply_files, EXAMPLES, url=stack.edge_url, api_key=None)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "created credential github-webhook" in out
    again = await asyncio.to_thread(apply_files, EXAMPLES, url=stack.edge_url, api_key=None)
    out, err = capsys.readouterr()
    assert again == 0, err
    assert "created" not in out and "updated credential github-webhook" in out

    body = json.dumps({"ref": "refs/heads/main", "commits": [{}, {}]}).encode()
    signature = hmac.new(b"change-me", body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    resp = await client.post(
        "/webhook/github",
        content=body,
        headers={**headers, "X-Hub-Signature-256": f"sha256={signature}"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"event": "push", "ref": "refs/heads/main", "commits": 2}
    forged = await client.post(
        "/webhook/github", content=body, headers={**headers, "X-Hub-Signature-256": "sha256=00"}
    )
    assert forged.status_code == 401
