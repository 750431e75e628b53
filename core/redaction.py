"""Redaction of credentials in text: ``user:token@`` (and a lone ``user@``) in URLs, the values of URL query strings
(``?token=…``, signed webhook URLs), Authorization values, and known secrets.

Used by the logging filter (every handler), the HTTP seam (every error), and the audit writer.
"""

import logging
import re
from collections.abc import Iterable

REDACTED = "***"

# userinfo in any URL: scheme://user:pass@host or scheme://token@host
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s\"'<>]+)@")
# Authorization headers and bearer-like credentials
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n,}]+)")
_SCHEME_CRED = re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=:-]{6,}")
# the query string of any URL: each value is replaced, the names stay (``?per_page=***&sig=***``)
_URL_QUERY = re.compile(r"(?P<base>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"'<>]+)\?(?P<query>[^\s#\"'<>]*)")


def _redact_query(match: re.Match[str]) -> str:
    parts = []
    for pair in match.group("query").split("&"):
        name, equals, value = pair.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and value else (pair if equals else REDACTED if pair else pair))
    return f"{match.group('base')}?{'&'.join(parts)}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with URL userinfo, Authorization values and every string in ``secrets`` replaced."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _URL_QUERY.sub(_redact_query, text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _SCHEME_CRED.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def redact_data(value: object, secrets: Iterable[str] = ()) -> object:
    """Redact every string inside a JSON-like structure."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, secrets) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the fully formatted message, including exception text, of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction() -> int:
    """Give every handler of every logger (the root's included) a :class:`RedactingFilter` if it has none, so a
    handler a library attached (or Django's defaults) cannot print a credential. Returns how many were added."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    added = 0
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
                added += 1
    return added
