"""Pure pieces of the console: reading a pasted workflow (JSON or YAML), the display
helpers of the pages, and where a login may send the browser."""

from __future__ import annotations

import pytest

from hookline_edge.console.access import safe_next
from hookline_edge.console.documents import DocumentError, parse_document
from hookline_edge.console.views import (
    format_ms,
    format_time,
    run_duration_ms,
    short_id,
    workflow_row,
)


def test_json_and_yaml_give_the_same_workflow() -> None:
    from_json = parse_document('{"name": "A", "nodes": [{"name": "H", "type": "manual"}]}')
    from_yaml = parse_document("name: A\nnodes:\n  - name: H\n    type: manual\n")
    assert from_json == from_yaml


def test_json_indented_with_tabs_is_read_as_json() -> None:
    assert parse_document('{\n\t"name": "Tabbed"\n}')["name"] == "Tabbed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "paste a workflow"),
        ("[1, 2]", "not a list"),
        ('{"name": ', "not valid JSON"),
        ("just words", "an object"),
        ('{"nodes": []}', "'name'"),
    ],
)
def test_text_that_is_not_one_named_workflow_is_refused_with_a_reason(
    text: str, message: str
) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_document(text)


def test_a_workflow_row_reads_trigger_webhook_and_settings() -> None:
    row = workflow_row(
        {
            "id": "w1",
            "name": "Hooky",
            "active": False,
            "settings": {
                "saveExecutionToDatabase": False,
                "resultTtlSeconds": 5,
                "responseTimeoutSeconds": 7,
            },
            "nodes": [
                {"name": "H", "type": "webhook", "parameters": {"path": "a/b", "method": "put"}}
            ],
        }
    )
    assert (row.trigger_type, row.method, row.path, row.response_mode) == (
        "webhook",
        "PUT",
        "a/b",
        "onReceived",
    )
    assert row.active is False and row.saves_history is False
    assert row.webhook_url("http://edge:3001/") == "http://edge:3001/webhook/a/b"


def test_a_schedule_row_has_no_webhook_url() -> None:
    row = workflow_row(
        {"nodes": [{"name": "S", "type": "schedule", "parameters": {"cron": "*/5 * * * *"}}]}
    )
    assert row.webhook_url("http://x") is None
    assert row.schedule == "*/5 * * * * (UTC)"


def test_times_and_durations_read_well() -> None:
    record = {"startedAt": "2026-11-28T00:00:00Z", "finishedAt": "2026-11-28T00:00:01.5Z"}
    assert run_duration_ms(record) == 1500
    assert format_ms(1500.0) == "1.50 s"
    assert format_ms(0.4) == "0.40 ms"
    assert format_ms(None) == "—"
    assert format_time("2026-11-28T00:40:12.5Z") == "2026-11-28 00:40:12 UTC"
    assert run_duration_ms({"startedAt": "2026-11-28T00:00:00Z", "finishedAt": None}) is None
    assert short_id("01a21f9b-4862-731b-a2e9-e6aa56225a8a") == "…e6aa56225a8a"


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/console/executions?status=error", "/console/executions?status=error"),
        ("https://elsewhere.example/console", "/console"),
        ("//elsewhere.example/console", "/console"),
        ("/console\r\nSet-Cookie: x=1", "/console"),
        (None, "/console"),
    ],
)
def test_after_login_the_console_only_sends_you_to_its_own_pages(
    asked: str | None, sent_to: str
) -> None:
    assert safe_next(asked) == sent_to
