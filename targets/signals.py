"""Signals targets send so that apps building on them (notifications) can follow without targets importing them.
Receivers run synchronously, inside the transaction that made the change.

- ``push_failed``: ``sender=Push, push=..., error=...`` when a push failed for good (not per attempt);
  ``error`` is already redacted.
- ``health_checked``: ``sender=Target, target=..., previous=..., current=..., check=...`` after a health check set
  the target's health (``previous`` is what it was before, read under the target's row lock).
"""

from django.dispatch import Signal

push_failed = Signal()
health_checked = Signal()
