"""Encryption at rest (MultiFernet) and keyed fingerprints of secrets.

Keys come from ``FIELD_ENCRYPTION_KEYS``: the first encrypts, every key decrypts, so adding a new key in front and
running ``manage.py rotate_encryption_key`` moves all stored secrets to it.
"""

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key. Permanent: no retry can help until the key
    it was encrypted with is back in ``FIELD_ENCRYPTION_KEYS``; the message says so and names no secret."""


MISSING_KEY = (
    "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS: the key it was encrypted with is "
    "missing. Put that key back in FIELD_ENCRYPTION_KEYS (after the first) and restart, or enter the secret again."
)


@functools.cache
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        fernets = [Fernet(k.encode()) for k in keys]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a valid Fernet key (32 url-safe base64-encoded bytes)."
        ) from exc
    return MultiFernet(fernets), fernets[0]


def _keys() -> tuple[str, ...]:
    return tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the primary key; returns a Fernet token as text."""
    multi, _ = _fernets(_keys())
    return multi.encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt a value encrypted with any configured key."""
    multi, _ = _fernets(_keys())
    try:
        return multi.decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError(MISSING_KEY) from None


def is_primary(ciphertext: str) -> bool:
    """True when ``ciphertext`` is already encrypted with the primary key."""
    _, primary = _fernets(_keys())
    try:
        primary.decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt ``ciphertext`` with the primary key (MultiFernet.rotate)."""
    multi, _ = _fernets(_keys())
    try:
        return multi.rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError(MISSING_KEY) from None


def _fingerprint_key() -> bytes:
    # Its own key, not SECRET_KEY: rotating Django's signing key must not change every stored fingerprint (and a
    # leaked SECRET_KEY must not let anyone test guesses against them). core.keycheck notices when it changes.
    key = getattr(settings, "FINGERPRINT_KEY", "")
    if not key:
        raise ImproperlyConfigured("FINGERPRINT_KEY is empty.")
    return hmac.new(key.encode(), b"feedkeeper/fingerprint/v1", hashlib.sha256).digest()


def fingerprint(secret: str) -> str:
    """A short keyed hash (HMAC-SHA256, 12 hex digits) that names a secret without revealing it."""
    return hmac.new(_fingerprint_key(), secret.encode(), hashlib.sha256).hexdigest()[:12]
