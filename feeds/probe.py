"""Does a simple index accept a credential? One GET of the index root through the HTTP seam, classified.

See docs/platforms.md §5: 200 with an index body is ``ok``; 401 and Azure DevOps' 203 or redirect to a sign-in page are
``unauthorized``; 403 ``forbidden``; 404 ``not_found``; no answer ``unreachable``; anything else ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from core import http
from core.redaction import redact
from feeds.models import CheckStatus

PEP691_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_SIGN_IN_HINTS = ("signin", "sign-in", "login", "_signin", "oauth", "/auth", "authorize")
_MAX_REDIRECTS = 3


@dataclass(frozen=True)
class ProbeResult:
    status: str
    http_status: int | None
    detail: str


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def probe_index(index_url: str, username: str, token: str) -> ProbeResult:
    """Probe ``index_url`` with HTTP Basic ``username:token`` as pip would send it. Never raises for a network
    or HTTP failure; every detail is redacted."""
    secrets = (token, username) if username else (token,)
    auth = (username or token, token if username else "")
    url = index_url
    accept = PEP691_ACCEPT
    for _ in range(_MAX_REDIRECTS + 1):
        try:
            response = http.request("GET", url, auth=auth, headers={"Accept": accept}, secrets=secrets)
        except http.TransportError as exc:
            return ProbeResult(CheckStatus.UNREACHABLE, None, str(exc))
        code = response.status_code
        if code == 406 and accept != "text/html":
            accept = "text/html"
            continue
        if code in (301, 302, 303, 307, 308):
            location = urljoin(url, response.headers.get("Location", ""))
            if any(hint in location.lower() for hint in _SIGN_IN_HINTS):
                return ProbeResult(
                    CheckStatus.UNAUTHORIZED, code, "The feed redirected to a sign-in page: the token was not accepted."
                )
            if not _same_origin(url, location):
                return ProbeResult(
                    CheckStatus.ERROR, code, redact(f"The feed redirected to another host ({location}).", secrets)
                )
            url = location
            continue
        return _classify(response.status_code, response.headers.get("content-type", ""), response.text, secrets)
    return ProbeResult(CheckStatus.ERROR, None, "Too many redirects.")


def _classify(code: int, content_type: str, body: str, secrets: tuple[str, ...]) -> ProbeResult:
    ctype = content_type.split(";")[0].strip().lower()
    if code == 200:
        if ctype in ("text/html", "application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+json"):
            return ProbeResult(CheckStatus.OK, code, f"The index answered with {ctype}.")
        return ProbeResult(
            CheckStatus.ERROR, code, f"HTTP 200, but not a package index (content type {ctype or 'none'})."
        )
    if code == 203:
        # Azure DevOps answers bad credentials with 203 and a sign-in page (docs/platforms.md §3, quirks).
        return ProbeResult(CheckStatus.UNAUTHORIZED, code, "HTTP 203 with a sign-in page: the token was not accepted.")
    if code == 401:
        return ProbeResult(CheckStatus.UNAUTHORIZED, code, "HTTP 401: the token is wrong, expired or revoked.")
    if code == 403:
        return ProbeResult(CheckStatus.FORBIDDEN, code, "HTTP 403: the token is valid but may not read this feed.")
    if code == 404:
        return ProbeResult(CheckStatus.NOT_FOUND, code, "HTTP 404: no index at this URL. Check the feed's URL.")
    snippet = redact(" ".join(body.split())[:160], secrets)
    return ProbeResult(CheckStatus.ERROR, code, f"HTTP {code}: {snippet}" if snippet else f"HTTP {code}.")
