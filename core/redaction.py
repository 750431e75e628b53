"""Redaction of credentials in text: ``user:token@`` in URLs, Authorization values, and known secrets.

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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with URL userinfo, Authorization values and every string in ``secrets`` replaced."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
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
