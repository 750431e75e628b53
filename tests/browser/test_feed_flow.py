"""A real browser (Debian's chromium, driven by Playwright) adds a feed and watches its credential checks finish.

The dashboard runs on pytest-django's live server, checks run on a real Celery worker process, and the feed is a
real private index (pypiserver). The page updates itself with htmx, so these tests also prove htmx loads under the
strict Content-Security-Policy.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Response, expect, sync_playwright

from tests.conftest import PASSWORD
from tests.support.pypi import PrivateIndex
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WRONG_TOKEN = "wrong-token-0f9e8d7c6b5a"
CHECK_TIMEOUT_MS = 45_000


@pytest.fixture(scope="module", autouse=True)
def _allow_orm_next_to_playwrights_event_loop() -> Iterator[None]:
    """Playwright's sync API runs an asyncio loop in this thread; Django then refuses ORM calls here
    (SynchronousOnlyOperation) unless told the loop is not serving requests. Restored afterwards."""
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if old is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture(scope="module")
def browser(_allow_orm_next_to_playwrights_event_loop: None) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install Debian's chromium (apt-get install chromium) to run browser tests."
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def expected_failures() -> list[str]:
    """Substrings of "STATUS URL" for responses a test expects to fail (a page answering 403 on purpose, say)."""
    return []


@pytest.fixture
def page(browser: Browser, expected_failures: list[str], request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test. The test fails on any script error (a CSP violation is one) and on any
    unexpected failed response (a missing static file, a 500 from a poll)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    failed_before = request.session.testsfailed

    def on_console(message: ConsoleMessage) -> None:
        # Failed loads are reported with their URL by on_response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    if request.session.testsfailed > failed_before:
        print(f"the browser saw: {errors}")  # the test already failed; this adds to its report
        return
    unexpected = [e for e in errors if not any(x in e for x in expected_failures)]
    assert not unexpected, f"the browser saw errors: {unexpected}"


def log_in(page: Page, base_url: str, user: User) -> None:
    """Log in through the form; a user whose role needs a second factor gets an authenticator and types its code
    on the page that asks for it."""
    from accounts.mfa import mfa_required
    from tests.support.mfa import code_of, give_authenticator

    device = give_authenticator(user) if mfa_required(user) else None
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    if device is not None:
        expect(page.locator("h1")).to_have_text("Second factor")
        page.fill("#id_code", code_of(device))
        page.click("button[type=submit]")
    expect(page.locator(".whoami")).to_contain_text(user.username)


def assert_htmx_loaded(page: Page) -> None:
    page.wait_for_function("() => typeof window.htmx === 'object' && typeof window.htmx.process === 'function'")


def secret_forms(token: str) -> list[str]:
    """The ways a token could leak into a page: as is, HTML-escaped, percent-encoded."""
    return [token, html.escape(token), quote(token, safe=""), quote(token, safe="@:/")]


def assert_no_secret(page: Page, *tokens: str) -> None:
    content = page.content()
    for token in tokens:
        for form in secret_forms(token):
            assert form not in content, f"the page at {page.url} shows a token ({form!r})"


def latest_check(page: Page) -> tuple[str, Locator]:
    row = page.locator("#checks tbody tr").first
    return row.get_attribute("id") or "", row.locator(".badge")


def test_an_admin_adds_a_feed_and_sees_its_checks_turn_ok_then_forbidden_after_a_wrong_token(
    live_server: object,
    celery_worker_process: WorkerProcess,
    private_index: PrivateIndex,
    admin: User,
    page: Page,
    tmp_path: Path,
) -> None:
    base = str(live_server)
    log_in(page, base, admin)
    assert_htmx_loaded(page)

    page.goto(f"{base}/feeds/")
    page.get_by_role("link", name="Add feed").first.click()
    expect(page).to_have_url(f"{base}/feeds/new/")
    page.fill("#id_name", "private-index")
    page.select_option("#id_kind", "generic")
    expect(page.locator("#id_index_url")).to_be_visible()
    page.fill("#id_index_url", private_index.url)
    page.fill("#id_username", private_index.username)
    page.fill("#id_token", private_index.token)
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/feeds/\d+/$"))
    expect(page.locator("h1")).to_have_text("private-index")
    assert_htmx_loaded(page)
    assert_no_secret(page, private_index.token)
    first_id, badge = latest_check(page)
    assert first_id.startswith("check-")
    # Only htmx polling can change the row without a reload.
    expect(badge).to_have_text("ok", timeout=CHECK_TIMEOUT_MS)
    assert_no_secret(page, private_index.token)

    page.get_by_role("link", name="Replace token").click()
    page.fill("#id_token", WRONG_TOKEN)
    page.get_by_role("button", name="Replace token").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/feeds/\d+/$"))
    second_id, badge = latest_check(page)
    assert second_id.startswith("check-") and second_id != first_id
    expect(badge).to_have_text("forbidden", timeout=CHECK_TIMEOUT_MS)
    expect(page.locator(f"#{first_id} .badge")).to_have_text("ok")

    screenshot = tmp_path / "feed-detail.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    assert_no_secret(page, private_index.token, WRONG_TOKEN)
    assert "feeds.run_feed_check" in celery_worker_process.log()


def test_an_operator_sees_no_add_feed_button_and_is_refused_the_new_feed_page(
    live_server: object, operator: User, page: Page, expected_failures: list[str]
) -> None:
    base = str(live_server)
    expected_failures.append(f"403 {base}/feeds/new/")
    log_in(page, base, operator)

    page.goto(f"{base}/feeds/")
    expect(page.locator("h1")).to_have_text("Feeds")
    assert_htmx_loaded(page)
    expect(page.get_by_role("link", name="Add feed")).to_have_count(0)

    response = page.goto(f"{base}/feeds/new/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("form[data-kind-form]")).to_have_count(0)
