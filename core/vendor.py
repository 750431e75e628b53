"""The base of every vendor's REST client (target platforms, token providers): one call through the HTTP seam
(:mod:`core.http`), redaction of the client's secrets in every error, and one mapping of answers to
:class:`VendorError` (or the subclass a client names in ``error_class``):

- no answer (DNS, refused, timeout, TLS): transient;
- 401 (the credential was refused) and 403 (the identity may not do this): permanent, with a message saying so;
- 404 and any other 4xx: permanent;
- 429 and 5xx: transient, with the answer's ``Retry-After`` as ``retry_after``;
- a success whose body is not JSON: transient.

A vendor's client overrides :meth:`VendorClient.raise_for_response` to read its own error bodies (and, where it
words them differently, :meth:`VendorClient.describe` and :meth:`VendorClient.error`); it never builds an HTTP
client of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from core import http
from core.redaction import redact


class VendorError(Exception):
    """A vendor call failed. The message is redacted and fit to show an admin. ``permanent`` says whether trying
    again can help; ``retry_after`` is the vendor's own hint (seconds). ``detail`` (optional) is bookkeeping of what
    the failed call did achieve."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        secrets: tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(redact(message, secrets))
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.detail: dict[str, Any] = dict(detail or {})


class Failure(StrEnum):
    """What an error answer means, whatever the vendor."""

    CREDENTIAL = "credential"  # the credential was refused (wrong, expired, revoked)
    FORBIDDEN = "forbidden"  # the credential is good but may not do this
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"  # rate limited: wait (Retry-After) and try again
    UNAVAILABLE = "unavailable"  # the platform failed (5xx): try again later
    REFUSED = "refused"  # any other refusal of the request itself


TRANSIENT = frozenset({Failure.THROTTLED, Failure.UNAVAILABLE})


def failure_of(status: int) -> Failure:
    """The :class:`Failure` an HTTP error status means on its own."""
    if status == 401:
        return Failure.CREDENTIAL
    if status == 403:
        return Failure.FORBIDDEN
    if status == 404:
        return Failure.NOT_FOUND
    if status == 429:
        return Failure.THROTTLED
    if status >= 500:
        return Failure.UNAVAILABLE
    return Failure.REFUSED


def first_line(response: httpx.Response, limit: int = 200) -> str:
    """The first line of a body, cut to ``limit`` characters (empty for an empty body)."""
    text = (response.text or "").strip()
    return text.splitlines()[0][:limit] if text else ""


class VendorClient:
    """Calls one platform installation as the target's identity. Subclasses set :attr:`vendor` (how messages name
    the platform), :attr:`retry`, :attr:`ok_below`, and their authentication in :meth:`auth_headers`."""

    vendor: ClassVar[str] = "the platform"
    # The error type :meth:`error` builds; a vendor whose errors carry more fields overrides :meth:`error` instead.
    error_class: ClassVar[type[VendorError]] = VendorError
    retry: ClassVar[http.RetryPolicy] = http.NO_RETRY
    # Answers below this status are successes (the seam never follows redirects).
    ok_below: ClassVar[int] = 300

    def __init__(self, *, url: str, secrets: Iterable[str] = ()) -> None:
        self.url = url.rstrip("/")
        self._secrets: tuple[str, ...] = tuple(dict.fromkeys(s for s in secrets if s))

    # --- secrets ------------------------------------------------------------------------------------------
    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string scrubbed from this client's errors (its credential, and what :meth:`add_secret` added)."""
        return self._secrets

    def add_secret(self, value: str) -> None:
        """Also scrub ``value`` (for example the URL being pushed) from every error message."""
        if value and value not in self._secrets:
            self._secrets = (*self._secrets, value)

    # --- the call -----------------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate a call (``Authorization``)."""
        return {}

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        retry: http.RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send one request through the seam with exactly ``headers`` and return the answer, whatever its status.
        No answer raises :meth:`transport_error`."""
        try:
            return http.request(
                method,
                url,
                headers=headers,
                auth=auth,
                params=params,
                json=json,
                data=data,
                retry=retry or self.retry,
                secrets=self.secrets,
            )
        except http.TransportError as exc:
            raise self.transport_error(exc) from None

    def fetch(
        self,
        method: str,
        url: str,
        *,
        where: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: http.RetryPolicy | None = None,
    ) -> Any:
        """One authenticated JSON call: the decoded body (``{}`` for an empty one), or the :class:`VendorError`
        the answer means. ``where`` names the call in messages (a path)."""
        headers = {**self.auth_headers(), "Accept": "application/json"}
        response = self.send(method, url, headers=headers, params=params, json=json, retry=retry)
        self.raise_for_response(response, where)
        return self.json_body(response, where)

    def json_body(self, response: httpx.Response, where: str) -> Any:
        """A success's JSON body; ``{}`` when empty; a transient error when it is not JSON."""
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise self.error(
                f"{where}: {self.vendor} answered with something that is not JSON (HTTP {response.status_code}).",
                permanent=False,
                status=response.status_code,
            ) from None

    # --- errors -------------------------------------------------------------------------------------------
    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        """Return for a success; raise the :class:`VendorError` an error answer means. Vendors override this to
        read their error bodies and then raise :meth:`status_error` with the message (and code) they found."""
        if response.status_code < self.ok_below:
            return
        raise self.status_error(response, where, message=first_line(response))

    def classify(self, status: int, code: str, message: str) -> Failure:
        """What an error answer means; by default from its status alone. Vendors refine it with their codes."""
        return failure_of(status)

    def status_error(
        self, response: httpx.Response, where: str, *, message: str, code: str = "", **extra: Any
    ) -> VendorError:
        """The common mapping of an error answer: :meth:`classify` it, word it with :meth:`describe`, and build
        it with :meth:`error` (transient failures carry ``Retry-After``). ``extra`` goes to :meth:`error`."""
        status = response.status_code
        failure = self.classify(status, code, message)
        transient = failure in TRANSIENT
        retry_after = http.parse_retry_after(response.headers.get("Retry-After")) if transient else None
        text = self.describe(failure, response, where=where, message=message, code=code)
        return self.error(text, permanent=not transient, status=status, retry_after=retry_after, code=code, **extra)

    def describe(self, failure: Failure, response: httpx.Response, *, where: str, message: str, code: str) -> str:
        """The message an admin reads for an error answer. Never includes a secret (errors are redacted too)."""
        status = response.status_code
        detail = message or code or response.reason_phrase or "no detail"
        if failure is Failure.CREDENTIAL:
            return f"{self.vendor} refused Feedkeeper's credential (HTTP {status}): {detail}"
        if failure is Failure.FORBIDDEN:
            return f"Feedkeeper's identity may not do this on {self.vendor} (HTTP {status}): {detail}"
        if failure is Failure.THROTTLED:
            return f"{where}: rate limited by {self.vendor} (HTTP {status}): {detail}"
        if failure is Failure.UNAVAILABLE:
            return f"{where}: {self.vendor} failed (HTTP {status}): {detail}"
        return f"{where}: HTTP {status}: {detail}"

    def error(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str = "",
        **extra: Any,
    ) -> VendorError:
        """Build the vendor's error (redacted with :attr:`secrets`). ``code`` is the vendor's own error code, kept
        by vendors whose errors carry one; ``extra`` holds their other fields."""
        return self.error_class(
            message, permanent=permanent, status=status, retry_after=retry_after, secrets=self.secrets
        )

    def transport_error(self, exc: http.TransportError) -> VendorError:
        """No answer at all (the seam's message is already redacted): transient, except an address Feedkeeper
        never connects to (retrying cannot help)."""
        return self.error(f"Could not reach {self.vendor}: {exc}", permanent=exc.reason == "blocked")
