"""Links to many rows' pages without a ``reverse`` per row."""

from __future__ import annotations

from django.urls import reverse


class Links:
    """``reverse(name, args=[pk])`` for many rows: each pattern is reversed once, then the id is put in its place.
    The overview links a few hundred rows to a handful of patterns, and every ``reverse`` walks the resolver. Made
    per request (a URLconf or script prefix is never cached across requests)."""

    MARK = 987654321987654321

    def __init__(self) -> None:
        self._parts: dict[str, tuple[str, str]] = {}

    def __call__(self, name: str, pk: int) -> str:
        parts = self._parts.get(name)
        if parts is None:
            before, _, after = reverse(name, args=[self.MARK]).partition(str(self.MARK))
            parts = self._parts[name] = (before, after)
        return f"{parts[0]}{int(pk)}{parts[1]}"
