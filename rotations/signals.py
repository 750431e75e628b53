"""Signals rotations send so that apps building on them (notifications) can follow without rotations importing
them. Receivers run synchronously, inside the transaction that made the change.

- ``rotation_finished``: ``sender=Rotation, rotation=..., status=...`` when a rotation completed (its new token is
  current) or failed (the previous token is still the valid one).
"""

from django.dispatch import Signal

rotation_finished = Signal()
