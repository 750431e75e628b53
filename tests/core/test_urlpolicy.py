"""Which URLs Feedkeeper may call."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.urlpolicy import validate_service_url


@pytest.mark.parametrize(
    "url",
    [
        "https://pypi.example.com/simple/",
        "  https://host:8443/a/b/  ",
        "http://127.0.0.1:8080/simple/",
        "http://localhost/x",
    ],
)
def test_it_accepts_https_and_plain_http_for_listed_hosts(url: str) -> None:
    assert validate_service_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the URL"),
        ("https://user:pa55word@h.example/", "must not contain credentials"),
        ("https://only-token@h.example/", "must not contain credentials"),
        ("http://h.example/simple/", "must use https"),
        ("ftp://h.example/", "must be an https:// URL"),
        ("h.example/simple", "must be an https:// URL"),
        ("https:///nohost", "must be an https:// URL"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://[::ffff:169.254.169.254]/", "link-local"),
        ("https://metadata.google.internal/", "metadata"),
        ("https://h.example:99999/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("https://h.example/simple/?token=x", "query string"),
    ],
)
def test_it_refuses_with_a_message_that_does_not_repeat_credentials(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_service_url(url)
    text = " ".join(caught.value.messages)
    assert message in text
    assert "pa55word" not in text and "only-token" not in text


def test_plain_http_follows_the_setting(settings: object) -> None:
    settings.PLAIN_HTTP_HOSTS = ["feeds.internal"]  # type: ignore[attr-defined]
    assert validate_service_url("http://feeds.internal/simple/")
    with pytest.raises(ValidationError):
        validate_service_url("http://127.0.0.1/simple/")
