"""Which feed a found credential belongs to: by the token itself when its fingerprint is one of a feed's token
versions (then also whether it is the current or an older token), else by the URL's host and path."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from feeds.models import Feed, TokenVersion
from findings.detect import Candidate
from findings.models import TokenMatch


@dataclass(frozen=True)
class FeedIndex:
    """Every feed's host and path, and every token version's fingerprint, read once per scan."""

    paths: list[tuple[str, str, int]]  # (host, path without trailing slash, feed id)
    tokens: dict[str, tuple[int, str]]  # fingerprint -> (feed id, stage)

    @classmethod
    def load(cls) -> FeedIndex:
        paths = []
        for pk, index_url in Feed.objects.values_list("pk", "index_url"):
            parts = urlsplit(index_url)
            paths.append(((parts.hostname or "").lower(), parts.path.rstrip("/"), pk))
        tokens: dict[str, tuple[int, str]] = {}
        for fingerprint, feed_id, stage in TokenVersion.objects.order_by("-created_at").values_list(
            "fingerprint", "feed_id", "stage"
        ):
            current = tokens.get(fingerprint)
            if current is None or stage == TokenVersion.Stage.CURRENT:
                tokens[fingerprint] = (feed_id, stage)
        return cls(paths=paths, tokens=tokens)

    def knows(self, fingerprint: str) -> bool:
        return fingerprint in self.tokens

    def match(self, candidate: Candidate, fingerprint: str) -> tuple[int | None, str]:
        """``(feed id or None, token match)`` for a candidate whose fingerprint is ``fingerprint``."""
        by_host = self.by_url(candidate.host, candidate.path) if candidate.host else None
        known = self.tokens.get(fingerprint)
        if known is not None:
            feed_id, stage = known
            return feed_id, TokenMatch.CURRENT if stage == TokenVersion.Stage.CURRENT else TokenMatch.PREVIOUS
        return by_host, TokenMatch.UNKNOWN

    def by_url(self, host: str, path: str) -> int | None:
        """The feed whose index URL is on ``host`` with the longest path ``path`` lies under; else the only feed on
        ``host``; else None."""
        path = path.rstrip("/")
        on_host = [(p, pk) for h, p, pk in self.paths if h == host.lower()]
        under = [(p, pk) for p, pk in on_host if path == p or path.startswith(p + "/") or not p]
        if under:
            return max(under, key=lambda item: len(item[0]))[1]
        return on_host[0][1] if len(on_host) == 1 else None
