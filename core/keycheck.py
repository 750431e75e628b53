"""Startup check of the keys: every entry of ``FIELD_ENCRYPTION_KEYS`` and ``FINGERPRINT_KEY`` against canaries
stored in the database (:class:`core.models.KeyCanary`), so a wrong or missing key stops the process with a clear
message instead of failing later, one secret at a time.

- Each key that has been the primary (first) key left an ``encryption`` canary: a known text encrypted with it.
  A configured key other than the primary that decrypts no canary is **wrong** (a typo, or a key of another
  installation). A canary that no configured key decrypts, and that ``rotate_encryption_key`` has not retired,
  means a key stored values still need is **missing**. A new primary key gets its canary on the first start.
- The ``fingerprint`` canary is the fingerprint of a known text: when it differs, ``FINGERPRINT_KEY`` changed and
  every stored fingerprint (feeds, targets, deliveries, connections, channels) no longer matches what Feedkeeper
  computes, so pushes would look stale and names would not match. ``manage.py refingerprint`` recomputes them.

The very first start of a database without canaries records them for the keys it is given (nothing to compare
with yet). :func:`verify_keys` runs when web (``config.wsgi``), worker and beat start, and as the ``database``
system check (``manage.py check --database default``).
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction

CANARY_TEXT = "feedkeeper/key-canary/v1"


class KeyProblem(ImproperlyConfigured):
    """A configured key is wrong, or one the stored values need is missing."""


def _keys() -> list[str]:
    return [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]


def _canary(key: str) -> str:
    return Fernet(key.encode()).encrypt(CANARY_TEXT.encode()).decode()


def _decrypts(key: str, value: str) -> bool:
    try:
        return Fernet(key.encode()).decrypt(value.encode()).decode() == CANARY_TEXT
    except (InvalidToken, ValueError):
        return False


def problems(*, record: bool = True) -> list[str]:
    """What is wrong with the configured keys, worded for an operator; empty when all is well. With ``record``,
    canaries are stored for a new primary key and, on a database without any, for every key."""
    from core import crypto
    from core.models import KeyCanary

    found: list[str] = []
    keys = _keys()
    crypto._fernets(tuple(keys))  # a key that is not a Fernet key at all: ImproperlyConfigured with its message
    canaries = list(KeyCanary.objects.filter(kind=KeyCanary.Kind.ENCRYPTION))
    if not canaries:
        if record:
            KeyCanary.objects.bulk_create(KeyCanary(kind=KeyCanary.Kind.ENCRYPTION, value=_canary(k)) for k in keys)
    else:
        for position, key in enumerate(keys, start=1):
            if any(_decrypts(key, c.value) for c in canaries):
                continue
            if position == 1:
                if record:
                    KeyCanary.objects.create(kind=KeyCanary.Kind.ENCRYPTION, value=_canary(key))
                continue
            found.append(
                f"FIELD_ENCRYPTION_KEYS entry {position} is wrong: it decrypts none of the stored key canaries, so it "
                "is not a key this database was ever encrypted with (a typo, or another installation's key)."
            )
        for canary in canaries:
            if canary.retired or any(_decrypts(k, canary.value) for k in keys):
                continue
            found.append(
                "A key that stored secrets are encrypted with is missing from FIELD_ENCRYPTION_KEYS (its canary "
                f"was recorded {canary.created_at:%Y-%m-%d %H:%M} UTC). Put it back after the first key; remove it "
                "only after manage.py rotate_encryption_key has run."
            )
    expected = crypto.fingerprint(CANARY_TEXT)
    stored = KeyCanary.objects.filter(kind=KeyCanary.Kind.FINGERPRINT).first()
    if stored is None:
        if record:
            KeyCanary.objects.create(kind=KeyCanary.Kind.FINGERPRINT, value=expected)
    elif stored.value != expected:
        found.append(
            "FINGERPRINT_KEY is not the key the stored fingerprints were made with: they would no longer match the "
            "secrets they name. Set it back, or run manage.py refingerprint to recompute them with the new key."
        )
    return found


def verify_keys() -> None:
    """Raise :class:`KeyProblem` naming every problem; a database not migrated yet is not checked."""
    try:
        with transaction.atomic():
            found = problems()
    except DatabaseError:
        return  # no canary table yet (before the first migrate): nothing to compare with
    if found:
        raise KeyProblem("Feedkeeper will not start: " + " ".join(found))


def retire_unused_canaries() -> int:
    """After every stored secret is on the primary key: mark the canaries of other keys retired, so removing those
    keys is no longer reported missing. Returns how many were retired."""
    from core.models import KeyCanary

    keys = _keys()
    retired = 0
    for canary in KeyCanary.objects.filter(kind=KeyCanary.Kind.ENCRYPTION, retired=False):
        if not _decrypts(keys[0], canary.value):
            canary.retired = True
            canary.save(update_fields=["retired"])
            retired += 1
    return retired


def record_fingerprint_key() -> None:
    """Store the fingerprint canary under the current ``FINGERPRINT_KEY`` (after ``refingerprint``)."""
    from core import crypto
    from core.models import KeyCanary

    KeyCanary.objects.filter(kind=KeyCanary.Kind.FINGERPRINT).delete()
    KeyCanary.objects.create(kind=KeyCanary.Kind.FINGERPRINT, value=crypto.fingerprint(CANARY_TEXT))


@checks.register(checks.Tags.database)
def check_keys(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check: ``manage.py check --database default`` reports key problems (Django runs database checks
    only when asked for a database)."""
    if not databases or "default" not in databases:
        return []
    try:
        found = problems(record=False)
    except DatabaseError:
        return []
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="feedkeeper.E001")]
    return [checks.Error(message, id="feedkeeper.E002") for message in found]
