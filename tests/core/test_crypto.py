"""Encryption at rest (MultiFernet) and keyed fingerprints."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from core import crypto

SECRET = "p@ss:w/rd%#?-secret"


def test_a_value_round_trips_and_is_not_stored_in_plain_text() -> None:
    ciphertext = crypto.encrypt(SECRET)
    assert SECRET not in ciphertext
    assert crypto.decrypt(ciphertext) == SECRET


def test_encrypting_twice_gives_different_ciphertexts() -> None:
    assert crypto.encrypt(SECRET) != crypto.encrypt(SECRET)


def test_a_value_encrypted_with_an_old_key_still_decrypts_when_a_new_key_is_put_first(settings: object) -> None:
    old = crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]  # type: ignore[attr-defined]
    assert crypto.decrypt(old) == SECRET
    assert not crypto.is_primary(old)
    new = crypto.reencrypt(old)
    assert crypto.is_primary(new) and crypto.decrypt(new) == SECRET


def test_new_values_are_encrypted_with_the_first_key(settings: object) -> None:
    primary = Fernet.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [primary.decode(), *settings.FIELD_ENCRYPTION_KEYS]  # type: ignore[attr-defined]
    assert Fernet(primary).decrypt(crypto.encrypt(SECRET).encode()).decode() == SECRET


def test_a_value_no_configured_key_can_read_is_a_decryption_error(settings: object) -> None:
    foreign = Fernet(Fernet.generate_key()).encrypt(SECRET.encode()).decode()
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(foreign)
    assert SECRET not in str(caught.value)
    with pytest.raises(crypto.DecryptionError):
        crypto.reencrypt(foreign)


def test_a_malformed_key_is_a_configuration_error(settings: object) -> None:
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured, match="not a valid Fernet key"):
        crypto.encrypt(SECRET)


def test_no_keys_is_a_configuration_error(settings: object) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [" "]  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured, match="empty"):
        crypto.encrypt(SECRET)


def test_the_fingerprint_is_short_stable_and_reveals_nothing() -> None:
    first = crypto.fingerprint(SECRET)
    assert first == crypto.fingerprint(SECRET)
    assert len(first) == 12 and all(c in "0123456789abcdef" for c in first)
    assert first != crypto.fingerprint(SECRET + "x")
    assert first not in SECRET


def test_the_fingerprint_is_keyed_by_the_fingerprint_key_and_not_the_secret_key(settings: object) -> None:
    first = crypto.fingerprint(SECRET)
    settings.SECRET_KEY = "another-installation-secret-key"  # type: ignore[attr-defined]
    assert crypto.fingerprint(SECRET) == first
    settings.FINGERPRINT_KEY = "another-installation-fingerprint-key"  # type: ignore[attr-defined]
    assert crypto.fingerprint(SECRET) != first
