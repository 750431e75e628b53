"""The browser fixtures of the feed flow (chromium, a page that fails the test on any script error or unexpected
failed response), shared with the other browser tests."""

from tests.browser.test_feed_flow import (  # noqa: F401 - fixtures
    _allow_orm_next_to_playwrights_event_loop,
    browser,
    expected_failures,
    page,
)
