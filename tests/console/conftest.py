"""Console fixtures: the whole stack in a background thread, and headless Chromium.

Playwright's sync API blocks its thread, so the stack (``LocalStack``: cache,
execution, trigger and edge on free ports) runs in a thread with its own event loop:
one without and one with an API key, shared by the console tests and stopped when
they end. Tests make fresh workflows (unique names and webhook paths), so sharing
is safe.

Chromium is Debian's (``/usr/bin/chromium``, or ``HOOKLINE_CHROMIUM``). Without it the
browser tests skip, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from hookline_runtime.settings import Settings
from tests.console.support import API_KEY, BackgroundStack
from tests.stack_settings import stack_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
EXPECT_TIMEOUT_MS = 15_000
"""Actions and assertions wait this long: generous for a loaded CI machine."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _settings(tmp: Path, redis_url: str, **overrides: Any) -> Settings:
    return stack_settings(f"sqlite:///{tmp / 'hookline.db'}", redis_url=redis_url, **overrides)


@pytest.fixture(scope="package")
def console_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[BackgroundStack]:
    """The stack with no API key."""
    with BackgroundStack(_settings(tmp_path_factory.mktemp("console"), redis_url)) as stack:
        yield stack


@pytest.fixture(scope="package")
def keyed_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[BackgroundStack]:
    """The stack with ``HOOKLINE_API_KEY`` = ``API_KEY``."""
    settings = _settings(tmp_path_factory.mktemp("console-keyed"), redis_url, api_key=API_KEY)
    with BackgroundStack(settings) as stack:
        yield stack


@pytest.fixture
def api(console_stack: BackgroundStack) -> Iterator[httpx.Client]:
    """The public JSON API of the keyless stack (what the tests check the console against)."""
    with httpx.Client(base_url=console_stack.edge_url, timeout=30) as client:
        yield client


@pytest.fixture
def browser_client(console_stack: BackgroundStack) -> Iterator[httpx.Client]:
    """A plain HTTP client of the console, keeping cookies like a browser."""
    with httpx.Client(base_url=console_stack.edge_url, timeout=30) as client:
        yield client


# ------------------------------------------------------------------ workflows
@pytest.fixture
def create_workflow(api: httpx.Client) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Create workflows through the API; they are deleted after the test."""
    made: list[str] = []

    def factory(document: dict[str, Any]) -> dict[str, Any]:
        response = api.post("/api/v1/workflows", json=document)
        assert response.status_code == 201, response.text
        stored: dict[str, Any] = response.json()
        made.append(stored["id"])
        return stored

    yield factory
    for workflow_id in made:
        api.delete(f"/api/v1/workflows/{workflow_id}")


# -------------------------------------------------------------------- browser
def _chromium_path() -> str:
    return os.environ.get("HOOKLINE_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the console's browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    path = _chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable(
            f"no Chromium at {path} (Debian: apt-get install chromium, or "
            "scripts/install-browser-deps; HOOKLINE_CHROMIUM names another binary)"
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page; it fails the test on a page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, "name")`` saves test-artifacts/screenshots/name.png: the whole
    page, or with ``full_page=False`` the viewport (for a dialog over the page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(target: Page, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        target.screenshot(path=str(path), full_page=full_page)
        return path

    return take
