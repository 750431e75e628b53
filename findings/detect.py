"""Finding credentials inside a value: URLs with credentials in their userinfo, and a feed's token without a URL
around it. Every function here keeps the credential in memory only: a :class:`Candidate` carries it to be
fingerprinted, and its ``excerpt`` is redacted."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from core import crypto
from core.redaction import REDACTED

# scheme://userinfo@host...: any scheme (pip takes http, https, file and VCS schemes such as git+https); the
# userinfo may hold ``user:password`` or a token alone (Databricks' docs show the PAT as the only userinfo).
CREDENTIAL_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^\s/\"'<>{}]+)@(?P<host>[^\s/?#@\"'<>{}]+)"
    r"(?P<path>/[^\s?#\"'<>{}]*)?"
)
# Pieces of a value that could be a token: split on what never occurs inside one.
_PIECES = re.compile(r"[\s\"',;=<>(){}\[\]|]+")
MIN_TOKEN_LENGTH = 8


@dataclass(frozen=True)
class Candidate:
    """A credential found in a value: its ``kind``, the ``secret`` (memory only), the URL's host and path (for a
    URL) and a redacted ``excerpt``."""

    kind: str
    secret: str = field(repr=False)
    excerpt: str
    host: str = ""
    path: str = ""

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.secret)


def _url_excerpt(match: re.Match[str], secret: str) -> str:
    userinfo = match.group("userinfo")
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    shown = f"{user}:{REDACTED}" if user else REDACTED
    path = match.group("path") or ""
    if len(path) > 80:
        path = path[:77] + "..."
    text = f"{match.group('scheme')}://{shown}@{match.group('host')}{path}"
    return text.replace(secret, REDACTED) if len(secret) >= 4 else text


def credential_urls(value: str) -> list[Candidate]:
    """Every URL in ``value`` with credentials in its userinfo. The secret is the (percent-decoded) password, or
    the whole userinfo when there is no password."""
    found = []
    for match in CREDENTIAL_URL.finditer(value):
        userinfo = match.group("userinfo")
        raw = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
        secret = unquote(raw)
        if not secret:
            continue
        netloc = match.group("host").lower()
        host = netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
        found.append(
            Candidate(
                kind="credential_url",
                secret=secret,
                excerpt=_url_excerpt(match, secret),
                host=host.lower(),
                path=match.group("path") or "/",
            )
        )
    return found


def token_matches(value: str, known: Callable[[str], bool]) -> list[Candidate]:
    """Pieces of ``value`` (outside credentialed URLs) whose fingerprint ``known`` recognises as a feed's token."""
    rest = CREDENTIAL_URL.sub(" ", value)
    found: dict[str, Candidate] = {}
    for piece in _PIECES.split(rest):
        for candidate in {piece, unquote(piece)}:
            if len(candidate) < MIN_TOKEN_LENGTH or candidate in found:
                continue
            if known(crypto.fingerprint(candidate)):
                # Only the shape: the rest of the value may hold other secrets Feedkeeper does not know.
                whole = candidate in (value.strip(), unquote(value.strip()))
                excerpt = REDACTED if whole else f"...{REDACTED}..."
                found[candidate] = Candidate(kind="token_match", secret=candidate, excerpt=excerpt)
    return list(found.values())


def candidates(value: str, known: Callable[[str], bool]) -> list[Candidate]:
    """Credentialed URLs and known tokens in ``value``, at most one per secret."""
    seen: set[str] = set()
    out = []
    for candidate in [*credential_urls(value), *token_matches(value, known)]:
        if candidate.secret not in seen:
            seen.add(candidate.secret)
            out.append(candidate)
    return out
