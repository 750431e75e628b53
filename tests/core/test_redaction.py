"""Redaction of URL userinfo, Authorization values and known secrets, in text and in every log line."""

from __future__ import annotations

import io
import logging

import pytest

from core.redaction import REDACTED, RedactingFilter, redact, redact_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:s3cret@host.example/simple/", "https://***@host.example/simple/"),
        ("pip install -i https://only-token@host.example/simple x", "pip install -i https://***@host.example/simple x"),
        ("see http://a:b@h1 and https://c:d@h2/p", "see http://***@h1 and https://***@h2/p"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: ***"),
        ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "***"}'),
        ("headers={'authorization': 'token xyz123456'}", "headers={'authorization': '***'}"),
        ("sent Bearer eyJhbGciOi.payload.sig to it", "sent Bearer *** to it"),
        ("using token ghp_abcdef123456", "using token ***"),
        ("basic dXNlcjpwYXNzd29yZA== was refused", "basic *** was refused"),
        ("nothing secret here: https://host.example/simple/", "nothing secret here: https://host.example/simple/"),
        ("", ""),
    ],
)
def test_it_redacts_credentials_in_text(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_it_redacts_every_known_secret_wherever_it_appears() -> None:
    text = "the server said: wrong password p@ss:w/rd%#? for user"
    assert redact(text, ["p@ss:w/rd%#?"]) == f"the server said: wrong password {REDACTED} for user"


def test_very_short_secrets_are_not_used_for_redaction() -> None:
    assert redact("a b c", ["a"]) == "a b c"


def test_it_redacts_inside_json_like_data() -> None:
    data = {"url": "https://u:tok-1234@h/", "list": ["Bearer abcdefgh", 3], "n": None, "s": "keep"}
    assert redact_data(data, ["keep"]) == {"url": "https://***@h/", "list": ["Bearer ***", 3], "n": None, "s": "***"}


def _logger_with_filter() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_the_logging_filter_redacts_formatted_messages() -> None:
    logger, stream = _logger_with_filter()
    logger.info("pushing %s with %s", "https://bot:tok-98765@h.example/simple/", {"Authorization": "Bearer zzz999"})
    out = stream.getvalue()
    assert "tok-98765" not in out and "zzz999" not in out
    assert "https://***@h.example/simple/" in out


def test_the_logging_filter_redacts_exception_tracebacks() -> None:
    logger, stream = _logger_with_filter()
    try:
        raise RuntimeError("could not reach https://bot:trace-secret-1@h.example/simple/")
    except RuntimeError:
        logger.exception("push failed")
    out = stream.getvalue()
    assert "RuntimeError" in out and "Traceback" in out
    assert "trace-secret-1" not in out and "https://***@h.example" in out


def test_a_broken_format_string_does_not_break_logging() -> None:
    logger, stream = _logger_with_filter()
    logger.info("%s %s https://u:broken-fmt-1@h/", "only-one-arg")
    assert "broken-fmt-1" not in stream.getvalue()


def test_the_configured_console_handler_redacts() -> None:
    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
    assert handlers, "the root logger's handler has the redacting filter"
