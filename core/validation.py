"""Validation that answers every error at once: a service runs its independent checks through an
:class:`ErrorCollector`, so a form (or an API call) with a bad URL and a taken name hears of both in one answer
instead of one per round."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class ErrorCollector:
    """The field-keyed errors of several checks. ``with errors.check(): ...`` runs one check and keeps what it
    raised; :meth:`raise_any` raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except ValidationError as exc:
            self.add(exc)

    def add(self, exc: ValidationError) -> None:
        found = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        for field, messages in found.items():
            known = self.errors.setdefault(field, [])
            known.extend(m for m in messages if m not in known)

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def raise_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
