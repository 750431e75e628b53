"""`manage.py rotate_encryption_key`: re-encrypts every stored secret to the primary key, safely re-runnable."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from core import crypto
from feeds import services
from feeds.models import Feed, TokenVersion

TOKENS = ["first-token-aaaa", "second-token-bbbb", "third-token-cccc"]


def rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
    return out.getvalue()


@pytest.fixture
def feeds_with_history(admin: User) -> Feed:
    feed = services.feed_create(
        actor=admin, name="f", kind="generic", index_url="https://x.example/simple/", token=TOKENS[0]
    )
    for token in TOKENS[1:]:
        services.feed_set_token(actor=admin, feed=feed, token=token)
    return feed


def test_it_reencrypts_every_token_version_to_the_new_primary_key(feeds_with_history: Feed, settings: object) -> None:
    new_key = Fernet.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [new_key.decode(), *settings.FIELD_ENCRYPTION_KEYS]  # type: ignore[attr-defined]
    output = rotate()
    assert "3 re-encrypted, 0 already on the primary key" in output
    only_new = Fernet(new_key)
    for version in TokenVersion.objects.order_by("pk"):
        assert only_new.decrypt(version.ciphertext.encode()).decode() in TOKENS
    settings.FIELD_ENCRYPTION_KEYS = [new_key.decode()]  # type: ignore[attr-defined]  # old keys can now go
    assert sorted(v.reveal() for v in TokenVersion.objects.all()) == sorted(TOKENS)
    event = AuditEvent.objects.get(action="encryption.rotate_key")
    assert event.detail == {"rotated": 3, "already_primary": 0, "retired_keys": 2}


def test_running_it_twice_changes_nothing_the_second_time(feeds_with_history: Feed, settings: object) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]  # type: ignore[attr-defined]
    rotate()
    before = list(TokenVersion.objects.order_by("pk").values_list("ciphertext", flat=True))
    output = rotate()
    assert "0 re-encrypted, 3 already on the primary key" in output
    assert list(TokenVersion.objects.order_by("pk").values_list("ciphertext", flat=True)) == before


def test_it_resumes_after_a_partial_run(feeds_with_history: Feed, settings: object) -> None:
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]  # type: ignore[attr-defined]
    first = TokenVersion.objects.order_by("pk").first()
    TokenVersion.objects.filter(pk=first.pk).update(ciphertext=crypto.reencrypt(first.ciphertext))
    assert "2 re-encrypted, 1 already on the primary key" in rotate()
    assert all(crypto.is_primary(v.ciphertext) for v in TokenVersion.objects.all())


def test_a_value_no_key_can_decrypt_is_a_clear_command_error(feeds_with_history: Feed) -> None:
    version = TokenVersion.objects.order_by("pk").first()
    lost = Fernet(Fernet.generate_key()).encrypt(b"lost-token-zzzz").decode()
    TokenVersion.objects.filter(pk=version.pk).update(ciphertext=lost)
    with pytest.raises(CommandError) as caught:
        rotate()
    message = str(caught.value)
    assert f"feeds.TokenVersion {version.pk}" in message and "FIELD_ENCRYPTION_KEYS" in message
    assert "lost-token-zzzz" not in message and lost not in message
