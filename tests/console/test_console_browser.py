"""The console driven in headless Chromium against the whole stack.

Each test does what an operator would, checks the result through the public API,
and saves a screenshot of each page into test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed (pip install -e '.[test]')", allow_module_level=True
    )

from tests.console.support import (
    API_KEY,
    BackgroundStack,
    branching_greeter,
    delete_by_name,
    greeter,
)

Shot = Callable[..., Path]
MakeWorkflow = Callable[[dict[str, Any]], dict[str, Any]]


def _workflow_id_from(page: Page) -> str:
    match = re.search(r"/console/workflows/([^/?#]+)", page.url)
    assert match, page.url
    return match.group(1)


def test_pasting_json_creates_a_workflow_shown_in_the_list_and_as_a_diagram(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    screenshot: Shot,
) -> None:
    document = branching_greeter(unique)
    try:
        page.goto(console_stack.edge_url + "/")
        expect(page).to_have_url(re.compile(r"/console$"))
        page.fill("#import-form-document", json.dumps(document, indent=2))
        page.click("#import-form button[type=submit]")

        expect(page.locator("h1")).to_have_text(document["name"])
        expect(page.locator(".notice")).to_have_text("Workflow created.")
        workflow_id = _workflow_id_from(page)
        stored = api.get(f"/api/v1/workflows/{workflow_id}").json()
        assert stored["name"] == document["name"]

        diagram = page.locator("svg.diagram")
        expect(diagram.locator("g.node")).to_have_count(5)
        expect(diagram.locator(".edge-label-true")).to_have_text("true")
        expect(diagram.locator(".edge-label-false")).to_have_text("false")
        screenshot(page, "workflow")

        page.click("nav >> text=Workflows")
        row = page.locator(f"tr[data-workflow='{document['name']}']")
        expect(row.locator(".tag")).to_have_text("webhook")
        expect(row.locator(".method")).to_have_text("POST")
        path = document["nodes"][0]["parameters"]["path"]
        expect(row.locator("code.copyable")).to_have_text(
            f"{console_stack.edge_url}/webhook/{path}"
        )
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        row.get_by_role("button", name="Copy").click()
        expect(row.get_by_role("button", name="Copied")).to_be_visible()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"{console_stack.edge_url}/webhook/{path}"
        expect(row).to_contain_text("lastNode")
        expect(row).to_contain_text("saved")
        expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
        screenshot(page, "workflows")
    finally:
        delete_by_name(api, document["name"])


def test_an_invalid_workflow_shows_the_api_message_next_to_the_input(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    screenshot: Shot,
) -> None:
    document = greeter(unique)
    document["nodes"][1]["type"] = "teleport"
    page.goto(console_stack.edge_url + "/console")
    page.fill("#import-form-document", json.dumps(document))
    page.click("#import-form button[type=submit]")

    error = page.locator("#import-form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Shape")
    expect(page.locator("#import-form-document")).to_have_attribute("aria-invalid", "true")
    assert "teleport" in page.locator("#import-form-document").input_value()
    screenshot(page, "workflows-validation-error")
    names = [
        wf["name"] for wf in api.get("/api/v1/workflows", params={"limit": 100}).json()["data"]
    ]
    assert document["name"] not in names


def test_pasting_yaml_with_an_existing_name_replaces_that_workflow(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
) -> None:
    stored = create_workflow(greeter(unique))
    path = stored["nodes"][0]["parameters"]["path"]
    yaml_text = f"""
name: {stored["name"]}
nodes:
  - name: Hook
    type: webhook
    parameters: {{path: {path}, method: PUT}}
connections: []
"""
    page.goto(console_stack.edge_url + "/console")
    page.fill("#import-form-document", yaml_text)
    page.click("#import-form button[type=submit]")

    expect(page.locator(".notice")).to_have_text("Workflow replaced.")
    assert _workflow_id_from(page) == stored["id"]
    replaced = api.get(f"/api/v1/workflows/{stored['id']}").json()
    assert replaced["nodes"][0]["parameters"]["method"] == "PUT"
    assert len(replaced["nodes"]) == 1


def test_switching_history_off_warns_before_saving_and_saves_the_setting(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
    screenshot: Shot,
) -> None:
    stored = create_workflow(greeter(unique, save=True))
    page.goto(f"{console_stack.edge_url}/console/workflows/{stored['id']}")
    page.click("#open-settings")

    toggle = page.get_by_label("Save Execution History")
    warning = page.locator("#history-warning")
    expect(toggle).to_be_checked()
    expect(warning).to_be_hidden()
    toggle.uncheck()
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("New executions will not be stored in the database")
    expect(warning).to_contain_text("Webhook callers still get responses through the result cache")
    expect(warning).to_contain_text("only until its TTL ends")
    assert (
        api.get(f"/api/v1/workflows/{stored['id']}").json()["settings"]["saveExecutionToDatabase"]
        is True
    ), "nothing is saved before Save"
    page.fill("#result-ttl", "120")
    screenshot(page, "settings-history-off", full_page=False)
    page.click("#save-settings")

    expect(page.locator(".notice")).to_have_text("Settings saved.")
    expect(page.locator("#history-state")).to_have_text("history not saved")
    settings = api.get(f"/api/v1/workflows/{stored['id']}").json()["settings"]
    assert settings["saveExecutionToDatabase"] is False
    assert settings["resultTtlSeconds"] == 120
    assert settings["responseTimeoutSeconds"] == 30


def test_an_out_of_range_setting_shows_the_api_message_in_the_dialog(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
) -> None:
    stored = create_workflow(greeter(unique))
    page.goto(f"{console_stack.edge_url}/console/workflows/{stored['id']}?dialog=settings")
    # The browser would refuse 0 (min=1); drop the constraint to reach the API's check.
    page.eval_on_selector("#response-timeout", "el => el.removeAttribute('min')")
    page.fill("#response-timeout", "0")
    page.click("#save-settings")

    expect(page.locator("#settings-error")).to_contain_text("responseTimeoutSeconds")
    expect(page.locator("#settings-dialog")).to_be_visible()
    assert (
        api.get(f"/api/v1/workflows/{stored['id']}").json()["settings"]["responseTimeoutSeconds"]
        == 30
    )


def test_a_test_request_shows_the_custom_response_and_opens_the_cached_execution(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
    screenshot: Shot,
) -> None:
    stored = create_workflow(branching_greeter(unique, save=False))
    page.goto(f"{console_stack.edge_url}/console/workflows/{stored['id']}")
    page.fill("#test-body", json.dumps({"name": "Ada"}))
    page.click("#send-test")

    expect(page.locator("#reply-status")).to_have_text("201 Created")
    expect(page.locator(".headers-table")).to_contain_text("x-greeter")
    expect(page.locator(".headers-table")).to_contain_text("console")
    expect(page.locator("#reply-body")).to_contain_text('"message": "Hello Ada"')
    execution_id = page.locator("#reply-execution").inner_text()
    screenshot(page, "workflow-test-request")

    page.click("#reply-execution")
    expect(page.locator("#execution-status")).to_have_text("success")
    notice = page.locator("#cache-notice")
    expect(notice).to_contain_text("From the result cache")
    expect(notice).to_contain_text("expires at")
    expect(page.locator("tr[data-node='Reply']")).to_contain_text("success")
    expect(page.locator("#execution-response")).to_contain_text("201")
    expect(page.locator("#execution-response")).to_contain_text("Hello Ada")
    expect(page.locator("svg.diagram g.node.status-success")).to_have_count(4)
    expect(page.locator("svg.diagram g.node[data-node='Refuse']")).not_to_have_class(
        re.compile("status-success")
    )
    screenshot(page, "execution-cached")
    record = api.get(f"/api/v1/executions/{execution_id}")
    assert record.headers["X-Hookline-Source"] == "cache"


def test_the_active_switch_turns_a_webhook_off_and_on(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
) -> None:
    stored = create_workflow(greeter(unique))
    path = stored["nodes"][0]["parameters"]["path"]
    page.goto(console_stack.edge_url + "/console")
    switch = page.locator(f"tr[data-workflow='{stored['name']}']").get_by_role("switch")

    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert api.get(f"/api/v1/workflows/{stored['id']}").json()["active"] is False
    assert api.post(f"/webhook/{path}", json={"name": "x"}).status_code == 404

    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    assert api.get(f"/api/v1/workflows/{stored['id']}").json()["active"] is True


def test_a_running_execution_updates_by_itself_until_it_ends(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
    screenshot: Shot,
) -> None:
    path = unique("slow")
    stored = create_workflow(
        {
            "name": unique("Slow"),
            "nodes": [
                {"name": "Hook", "type": "webhook", "parameters": {"path": path}},
                {"name": "Pause", "type": "wait", "parameters": {"seconds": 3}},
                {"name": "Done", "type": "set", "parameters": {"values": {"done": True}}},
            ],
            "connections": [{"from": "Hook", "to": "Pause"}, {"from": "Pause", "to": "Done"}],
        }
    )
    started = api.post(f"/webhook/{path}", json={})
    assert started.status_code == 200, started.text
    execution_id = started.json()["executionId"]
    # A saved run shows in the history once it has run a moment (a quick run writes
    # only its final row).
    deadline = time.monotonic() + 5
    while api.get(f"/api/v1/executions/{execution_id}").status_code != 200:
        assert time.monotonic() < deadline, "the running row never appeared"
        time.sleep(0.05)

    page.goto(f"{console_stack.edge_url}/console/executions/{execution_id}")
    status = page.locator("#execution-status")
    expect(status).to_have_text("running")
    expect(page.locator("#execution-detail")).to_have_attribute("hx-trigger", "every 1s")
    screenshot(page, "execution-running")
    expect(status).to_have_text("success", timeout=15_000)
    expect(page.locator("#execution-detail")).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(page.locator("tr[data-node='Done']")).to_contain_text("success")
    expect(page.locator(".source-line")).to_have_text("Saved in the database.")
    assert stored["settings"]["saveExecutionToDatabase"] is True


def test_executions_list_pages_through_saved_executions(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
    screenshot: Shot,
) -> None:
    stored = create_workflow(greeter(unique))
    path = stored["nodes"][0]["parameters"]["path"]
    ids = [
        api.post(f"/webhook/{path}", json={"name": str(n)}).headers["X-Execution-Id"]
        for n in range(3)
    ]
    # Each answer leaves by the cache first; the rows land a moment later.
    deadline = time.monotonic() + 5
    while (
        len(api.get("/api/v1/executions", params={"workflowId": stored["id"]}).json()["data"]) < 3
    ):
        assert time.monotonic() < deadline, "the saved rows never appeared"
        time.sleep(0.05)
    page.goto(f"{console_stack.edge_url}/console/executions?workflowId={stored['id']}&limit=2")
    rows = page.locator("table.executions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("success")
    expect(rows.first).to_contain_text("webhook")
    screenshot(page, "executions")
    page.click("#next-page")
    expect(rows).to_have_count(1)
    shown = page.locator("table.executions tbody tr a").first.get_attribute("href") or ""
    assert shown.endswith(ids[0]), "newest first: the last page holds the first execution"


def test_with_an_api_key_the_console_asks_for_it_once(
    page: Page,
    keyed_stack: BackgroundStack,
    screenshot: Shot,
) -> None:
    page.goto(keyed_stack.edge_url + "/console/executions")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    screenshot(page, "login")
    page.fill("#api_key", "not-the-key")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("That key is not valid.")

    page.fill("#api_key", API_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/executions$"))
    expect(page.locator("h1")).to_have_text("Executions")
    cookie = next(c for c in page.context.cookies() if c["name"] == "hookline_console_key")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    page.click("nav >> text=Workflows")
    expect(page.locator("h1")).to_have_text("Workflows")
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.goto(keyed_stack.edge_url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_deleting_a_workflow_asks_first_then_removes_it(
    page: Page,
    console_stack: BackgroundStack,
    api: httpx.Client,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
) -> None:
    stored = create_workflow(greeter(unique))
    page.goto(f"{console_stack.edge_url}/console/workflows/{stored['id']}")
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("text=Delete workflow")
    expect(page.locator(".notice")).to_have_text("Workflow deleted.")
    assert questions and stored["name"] in questions[0]
    assert api.get(f"/api/v1/workflows/{stored['id']}").status_code == 404


def test_run_now_starts_a_manual_run_and_its_page_waits_for_the_unsaved_result(
    page: Page,
    console_stack: BackgroundStack,
    unique: Callable[[str], str],
    create_workflow: MakeWorkflow,
    screenshot: Shot,
) -> None:
    stored = create_workflow(
        {
            "name": unique("Manual"),
            "settings": {"saveExecutionToDatabase": False},
            "nodes": [
                {"name": "Start", "type": "manual"},
                {"name": "Pause", "type": "wait", "parameters": {"seconds": 1}},
                {
                    "name": "Double",
                    "type": "set",
                    "parameters": {"values": {"twice": "{{ json.n * 2 }}"}},
                },
            ],
            "connections": [{"from": "Start", "to": "Pause"}, {"from": "Pause", "to": "Double"}],
        }
    )
    page.goto(f"{console_stack.edge_url}/console/workflows/{stored['id']}")
    expect(page.locator("#test-request")).to_have_count(0)
    page.fill("#run-input", "{not json")
    page.click("#run-now-button")
    expect(page.locator("#run-error")).to_contain_text("not valid JSON")

    page.fill("#run-input", '{"n": 21}')
    page.click("#run-now-button")
    expect(page).to_have_url(re.compile(r"/console/executions/[^/?]+\?pending=1$"))
    expect(page.locator("#execution-status")).to_have_text("success")
    expect(page.locator("#cache-notice")).to_contain_text("From the result cache")
    expect(page.locator("tr[data-node='Double']")).to_contain_text('"twice": 42')
    screenshot(page, "execution-manual-run")
