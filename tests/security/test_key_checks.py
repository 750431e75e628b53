"""Keys are checked before they are used: a wrong FIELD_ENCRYPTION_KEYS entry, a missing key or a changed
FINGERPRINT_KEY stops the start with a clear message; a value no key can decrypt fails once, clearly, not six
times; ``refingerprint`` recovers from a deliberate FINGERPRINT_KEY change."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from core import crypto, keycheck
from core.models import KeyCanary
from feeds import services as feed_services
from feeds.models import CheckStatus, Feed, FeedCheck, TokenVersion

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def keys(settings: Any) -> Any:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    return settings


@pytest.fixture
def feed(admin: Any, keys: Any) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token="feed-token-key-check",
    )


def test_the_first_start_records_canaries_and_the_next_start_with_the_same_keys_passes(db: None, keys: Any) -> None:
    keycheck.verify_keys()
    assert KeyCanary.objects.filter(kind="encryption").count() == 1
    assert KeyCanary.objects.filter(kind="fingerprint").count() == 1
    keycheck.verify_keys()
    assert KeyCanary.objects.count() == 2


def test_a_new_primary_key_in_front_is_accepted_and_gets_its_canary(db: None, keys: Any) -> None:
    keycheck.verify_keys()
    keys.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    keycheck.verify_keys()
    assert KeyCanary.objects.filter(kind="encryption").count() == 2


def test_a_wrong_older_key_refuses_to_start_and_says_which_entry(db: None, keys: Any) -> None:
    keycheck.verify_keys()
    keys.FIELD_ENCRYPTION_KEYS = [OLD, STRANGER]
    with pytest.raises(keycheck.KeyProblem) as caught:
        keycheck.verify_keys()
    assert "FIELD_ENCRYPTION_KEYS entry 2 is wrong" in str(caught.value)
    assert STRANGER not in str(caught.value)


def test_a_missing_key_refuses_to_start(db: None, keys: Any) -> None:
    keycheck.verify_keys()
    keys.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(keycheck.KeyProblem) as caught:
        keycheck.verify_keys()
    assert "missing from FIELD_ENCRYPTION_KEYS" in str(caught.value)


def test_after_rotate_encryption_key_the_old_key_may_be_dropped(db: None, keys: Any, feed: Feed) -> None:
    keycheck.verify_keys()
    keys.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    keycheck.verify_keys()
    call_command("rotate_encryption_key", stdout=StringIO())
    keys.FIELD_ENCRYPTION_KEYS = [NEW]
    keycheck.verify_keys()
    assert Feed.objects.get(pk=feed.pk).current_token.reveal() == "feed-token-key-check"  # type: ignore[union-attr]


def test_the_database_system_check_reports_key_problems(db: None, keys: Any) -> None:
    keycheck.verify_keys()
    keys.FIELD_ENCRYPTION_KEYS = [OLD, STRANGER]
    assert keycheck.check_keys() == []  # only with --database
    errors = keycheck.check_keys(databases=["default"])
    assert [e.id for e in errors] == ["feedkeeper.E002"]


def test_a_changed_fingerprint_key_refuses_to_start_until_refingerprint_has_run(
    db: None, keys: Any, feed: Feed
) -> None:
    keycheck.verify_keys()
    old_fingerprint = feed.fingerprint
    keys.FINGERPRINT_KEY = "a-new-fingerprint-key-for-this-installation"
    with pytest.raises(keycheck.KeyProblem) as caught:
        keycheck.verify_keys()
    assert "FINGERPRINT_KEY" in str(caught.value) and "refingerprint" in str(caught.value)
    out = StringIO()
    call_command("refingerprint", stdout=out)
    keycheck.verify_keys()
    version = TokenVersion.objects.get(feed=feed)
    assert version.fingerprint == crypto.fingerprint("feed-token-key-check") != old_fingerprint
    assert "1 fingerprints recomputed" in out.getvalue()


def test_a_token_no_key_can_decrypt_fails_its_check_once_with_a_clear_message(
    db: None, keys: Any, feed: Feed, django_capture_on_commit_callbacks: Any
) -> None:
    keys.FIELD_ENCRYPTION_KEYS = [STRANGER]
    with django_capture_on_commit_callbacks(execute=True):
        requested = feed_services.feed_check_request(actor="system", feed=feed)
    check = FeedCheck.objects.get(pk=requested.pk)
    assert check.status == CheckStatus.ERROR and check.attempts == 1
    assert "FIELD_ENCRYPTION_KEYS" in check.detail and "missing" in check.detail


def test_a_push_whose_token_no_key_can_decrypt_fails_at_once_and_is_not_retried(
    db: None, keys: Any, feed: Feed, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from targets import pushing, services, tasks
    from targets.adapters import Adapter, PushResult
    from targets.adapters.base import PushItem
    from targets.models import Push, PushStatus, Target

    class Accepting(Adapter):
        def push_many(self, items: list[PushItem], *, parallel: int) -> None:
            for item in items:
                item.result = PushResult(remote_ts=1)

    sent: list[int] = []
    monkeypatch.setattr(tasks.run_push, "delay", lambda pk: sent.append(pk))
    monkeypatch.setattr(tasks.dispatch_pushes, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.dispatch_pushes, "apply_async", lambda args, **kw: None)
    monkeypatch.setattr(Target, "adapter", lambda self: Accepting(self))
    monkeypatch.setattr(Target, "reveal_credential", lambda self: "dapi-credential")
    target = Target.objects.create(
        name="ws", kind="databricks", url="https://adb-1.azuredatabricks.net", auth_type="pat", config={}
    )
    target.set_credential("dapi-credential")
    target.save()
    services.delivery_create(actor="system", feed=feed, target=target, mode="secret", scope="team", key="k")
    keys.FIELD_ENCRYPTION_KEYS = [STRANGER]
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_dispatch(target_id=target.pk)
    keys.FIELD_ENCRYPTION_KEYS = [STRANGER]
    pushing.push_run(push_id=sent[0])
    push = Push.objects.get(pk=sent[0])
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "FIELD_ENCRYPTION_KEYS" in push.error
