"""Access to the console over plain HTTP: the API key login, CSRF on console forms only,
and the routes around the pages (no browser needed)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.console.support import API_KEY, BackgroundStack, greeter

CSRF_COOKIE = "hookline_console_csrf"


def _token(client: httpx.Client) -> str:
    """The CSRF token of the last console page (the hidden form field)."""
    page = client.get("/console")
    assert page.status_code == 200, page.text
    match = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def keyed_client(keyed_stack: BackgroundStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_stack.edge_url, timeout=30) as client:
        yield client


def test_the_root_redirects_to_the_console(browser_client: httpx.Client) -> None:
    response = browser_client.get("/")
    assert response.is_redirect
    assert response.headers["location"] == "/console"


def test_a_console_form_without_its_csrf_token_is_refused_and_changes_nothing(
    browser_client: httpx.Client, api: httpx.Client, unique: Callable[[str], str]
) -> None:
    document = greeter(unique)
    _token(browser_client)  # the CSRF cookie is set, but the form field is left out
    response = browser_client.post("/console/workflows", data={"document": json.dumps(document)})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "CSRF" in response.text
    names = [w["name"] for w in api.get("/api/v1/workflows", params={"limit": 100}).json()["data"]]
    assert document["name"] not in names


def test_a_console_form_with_its_csrf_token_is_accepted(
    browser_client: httpx.Client, api: httpx.Client, unique: Callable[[str], str]
) -> None:
    document = greeter(unique)
    token = _token(browser_client)
    response = browser_client.post(
        "/console/workflows", data={"document": json.dumps(document), "_csrf_token": token}
    )
    assert response.status_code == 303
    workflow_id = response.headers["location"].split("/console/workflows/")[1].split("?")[0]
    assert api.get(f"/api/v1/workflows/{workflow_id}").json()["name"] == document["name"]
    api.delete(f"/api/v1/workflows/{workflow_id}")


def test_the_json_api_needs_no_csrf_token_even_with_console_cookies(
    browser_client: httpx.Client, unique: Callable[[str], str]
) -> None:
    _token(browser_client)
    assert CSRF_COOKIE in browser_client.cookies
    created = browser_client.post("/api/v1/workflows", json=greeter(unique))
    assert created.status_code == 201, created.text
    assert browser_client.delete(f"/api/v1/workflows/{created.json()['id']}").status_code == 204


def test_an_unknown_execution_is_a_404_page_that_explains_the_cache(
    browser_client: httpx.Client, unique: Callable[[str], str]
) -> None:
    response = browser_client.get(f"/console/executions/{unique('missing')}")
    assert response.status_code == 404
    assert "result cache" in response.text


def test_an_unknown_workflow_is_a_404_page(browser_client: httpx.Client) -> None:
    response = browser_client.get("/console/workflows/no-such-workflow")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


def test_htmx_is_served_from_the_project_with_its_license(browser_client: httpx.Client) -> None:
    script = browser_client.get("/console/static/htmx.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! htmx 2.")
    assert "Zero-Clause BSD" in script.text[:400]
    page = browser_client.get("/console").text
    assert 'src="/console/static/htmx.min.js"' in page
    assert "https://" not in re.sub(r"http://127\.0\.0\.1:\d+", "", page)


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/executions",
        "/console/workflows/any",
        "/console/executions/any",
        "/console/executions/any/live",
        "/console/static/console.css",
    ],
)
def test_with_an_api_key_no_console_page_is_reachable_without_it(
    keyed_client: httpx.Client, path: str
) -> None:
    response = keyed_client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
    hx = keyed_client.get(path, headers={"HX-Request": "true"})
    assert hx.headers["HX-Redirect"].startswith("/console/login?next=")


def _login(client: httpx.Client, key: str) -> httpx.Response:
    page = client.get("/console/login")
    token = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text)
    assert token
    return client.post(
        "/console/login", data={"api_key": key, "next": "/console", "_csrf_token": token.group(1)}
    )


def test_a_wrong_key_is_refused_and_sets_no_cookie(keyed_client: httpx.Client) -> None:
    response = _login(keyed_client, "wrong")
    assert response.status_code == 401
    assert "hookline_console_key" not in keyed_client.cookies
    assert keyed_client.get("/console").status_code == 303


def test_the_key_is_kept_in_an_http_only_strict_cookie_for_the_console_only(
    keyed_client: httpx.Client,
) -> None:
    response = _login(keyed_client, API_KEY)
    assert response.status_code == 303
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("hookline_console_key=")
    )
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=strict"
    assert attributes["path"].strip().lower() == "path=/console"
    assert keyed_client.get("/console").status_code == 200
    # The cookie opens the console, not the JSON API: that still wants the header.
    assert keyed_client.get("/api/v1/workflows").status_code == 401
    assert keyed_client.get("/api/v1/workflows", headers={"X-API-Key": API_KEY}).status_code == 200


def test_the_console_calls_the_api_with_the_operators_key(
    keyed_client: httpx.Client, unique: Callable[[str], str]
) -> None:
    created = keyed_client.post(
        "/api/v1/workflows", json=greeter(unique), headers={"X-API-Key": API_KEY}
    )
    assert created.status_code == 201
    stored: dict[str, Any] = created.json()
    _login(keyed_client, API_KEY)
    page = keyed_client.get(f"/console/workflows/{stored['id']}")
    assert page.status_code == 200
    assert stored["name"] in page.text
    keyed_client.delete(f"/api/v1/workflows/{stored['id']}", headers={"X-API-Key": API_KEY})


def test_console_routes_stay_out_of_the_openapi_document(browser_client: httpx.Client) -> None:
    paths = browser_client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/workflows" in paths
    assert not [path for path in paths if path == "/" or path.startswith("/console")]


def test_a_page_opened_before_an_unsaved_run_ends_waits_for_it_then_gives_up(
    browser_client: httpx.Client,
    create_workflow: Callable[[dict[str, Any]], dict[str, Any]],
    api: httpx.Client,
    unique: Callable[[str], str],
) -> None:
    path = unique("later")
    create_workflow(
        {
            "name": unique("Later"),
            "settings": {"saveExecutionToDatabase": False},
            "nodes": [
                {"name": "Hook", "type": "webhook", "parameters": {"path": path}},
                {"name": "Pause", "type": "wait", "parameters": {"seconds": 5}},
            ],
            "connections": [{"from": "Hook", "to": "Pause"}],
        }
    )
    execution_id = api.post(f"/webhook/{path}", json={}).json()["executionId"]

    waiting = browser_client.get(f"/console/executions/{execution_id}?pending=1")
    assert waiting.status_code == 200
    assert f'hx-get="/console/executions/{execution_id}/live?pending=2"' in waiting.text
    assert "Waiting for this execution" in waiting.text
    gave_up = browser_client.get(f"/console/executions/{unique('gone')}/live?pending=61")
    assert "hx-get" not in gave_up.text
    assert "Not found" in gave_up.text


def test_activating_a_workflow_whose_webhook_is_taken_shows_why_in_its_row(
    browser_client: httpx.Client,
    create_workflow: Callable[[dict[str, Any]], dict[str, Any]],
    unique: Callable[[str], str],
) -> None:
    first = create_workflow(greeter(unique))
    second_doc = greeter(unique)
    second_doc["active"] = False
    second_doc["nodes"][0]["parameters"]["path"] = first["nodes"][0]["parameters"]["path"]
    second = create_workflow(second_doc)
    token = _token(browser_client)

    row = browser_client.post(
        f"/console/workflows/{second['id']}/active",
        data={"active": "true", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert row.status_code == 409
    assert row.text.lstrip().startswith(f'<tr id="wf-{second["id"]}"')
    assert 'role="alert"' in row.text
    assert 'aria-checked="false"' in row.text
