"""A token provider for engine tests: mints numbered tokens, remembers what is live, and can be told to fail."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any, ClassVar

from django.utils import timezone

from feeds.providers.base import CheckOutcome, ConnectionField, Minted, Provider, ProviderError


class FakeProvider(Provider):
    key = "fake"
    label = "Fake tokens"
    feed_kinds = ("generic", "jfrog")
    fields = (ConnectionField("token", "Token", secret=True),)
    revokes_by_value = True

    live: ClassVar[dict[str, str]] = {}  # token id -> token
    descriptions: ClassVar[dict[str, str]] = {}  # token id -> description
    revoked: ClassVar[list[str]] = []
    fail_mint: ClassVar[list[ProviderError]] = []
    counter: ClassVar[Any] = itertools.count(1)

    @classmethod
    def reset(cls) -> None:
        cls.live.clear()
        cls.descriptions.clear()
        cls.revoked.clear()
        cls.fail_mint.clear()
        cls.counter = itertools.count(1)

    def check(self) -> CheckOutcome:
        return CheckOutcome("ok", "fine")

    def mint(self, feed: Any, *, lifetime: timedelta, description: str) -> Minted:
        if self.fail_mint:
            raise self.fail_mint.pop(0)
        n = next(self.counter)
        token_id, token = f"id-{n}", f"minted-token-{n}-canary"
        self.live[token_id] = token
        self.descriptions[token_id] = description
        return Minted(token=token, token_id=token_id, expires_at=timezone.now() + lifetime)

    def revoke(self, *, token_id: str = "", token: str = "") -> str:
        if token and not token_id:
            token_id = next((i for i, t in self.live.items() if t == token), f"value:{token[:4]}")
        self.live.pop(token_id, None)
        self.revoked.append(token_id)
        return "revoked"

    def find_minted(self, description: str) -> list[str]:
        return [i for i, d in self.descriptions.items() if d == description and i in self.live]
