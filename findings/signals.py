"""Signals findings sends, so that apps building on it (notifications: ``finding.new``) can follow without findings
importing them. Receivers run synchronously, inside the transaction that made the change.

- ``finding_opened``: ``sender=Finding, finding=..., reopened=bool, scan=...`` when a scan finds a credential in a
  place for the first time (``reopened=False``), or again after it was resolved (``reopened=True``). Ignored
  findings seen again send nothing. ``finding.excerpt`` is redacted; the credential is never available.
"""

from django.dispatch import Signal

finding_opened = Signal()
