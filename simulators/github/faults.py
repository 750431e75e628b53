"""Answers for injected faults (``sim.faults`` is a :class:`simulators._common.FaultInjector`).

403 and 429 are secondary rate limits as GitHub REST docs "Rate limits for the REST API" describe them: "403 or
429 and an error message that indicates that you exceeded a secondary rate limit", here always with
``Retry-After`` (the fault's ``retry_after``, default 60 s: the docs' "wait for at least one minute").
``error_code="primary"`` turns a 403/429 into the primary-limit answer instead (``x-ratelimit-remaining: 0``,
no ``Retry-After``). 502 and 504 are HTML pages, as a proxy in front of the API sends them; other statuses are
GitHub-shaped JSON. ``message`` overrides the text.
"""

from __future__ import annotations

from simulators._common import Fault

from .api import Reply
from .model import DOCS, RATE_DOCS, ApiError
from .ratelimit import RateView

SECONDARY_MESSAGE = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
DEFAULT_SECONDARY_WAIT = 60
HTML_PAGE = "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
MESSAGES = {
    400: "Problems parsing JSON",
    401: "Bad credentials",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    500: "Server Error",
    503: "Service Unavailable",
}
HTML_REASONS = {502: "Bad Gateway", 504: "Gateway Timeout"}


def primary_limit_error(user_id: int | None, view: RateView) -> ApiError:
    """403 ``API rate limit exceeded for user ID …`` with the exhausted bucket's headers."""
    who = f"user ID {user_id}" if user_id is not None else "127.0.0.1"
    exhausted = RateView(view.limit, 0, view.limit, view.reset, view.resource)
    return ApiError(403, f"API rate limit exceeded for {who}.", RATE_DOCS, headers=exhausted.headers())


def fault_reply(fault: Fault, user_id: int | None, view: RateView) -> Reply | str:
    """The answer for an HTTP-status fault: a :class:`Reply`, or an HTML page (str) for 502/504."""
    assert isinstance(fault.status, int)
    status = fault.status
    if status in HTML_REASONS and fault.message is None:
        return HTML_PAGE.format(status=status, reason=HTML_REASONS[status])
    if status in (403, 429) and fault.error_code == "primary":
        error = primary_limit_error(user_id, view)
        error.status = status
        return Reply(status, error.body(), error.headers)
    if status in (403, 429):
        wait = fault.retry_after if fault.retry_after is not None else DEFAULT_SECONDARY_WAIT
        error = ApiError(status, fault.message or SECONDARY_MESSAGE, f"{RATE_DOCS}#about-secondary-rate-limits")
        return Reply(status, error.body(), {"Retry-After": str(int(wait))})
    error = ApiError(status, fault.message or MESSAGES.get(status, f"Simulated fault (HTTP {status})"), DOCS)
    headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
    return Reply(status, error.body(), headers)
