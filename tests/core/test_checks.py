"""The check lifecycle shared by every kind of check (:mod:`core.checks`): request, claim once, finish, reconcile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core import checks
from core.models import CheckRun, RunState
from feeds.models import CheckStatus, Feed, FeedCheck

FEED, TARGET = CheckRun.Kind.FEED, CheckRun.Kind.TARGET


@pytest.fixture
def feed(db: None) -> Feed:
    return Feed.objects.create(name="plain", index_url="https://plain.example/simple/")


def test_a_request_is_pending_and_enqueued_only_once_committed(feed: Feed, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    with django_capture_on_commit_callbacks() as callbacks:
        check = checks.request(FeedCheck, actor="scheduler", enqueue=sent.append, feed=feed)
        assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [check.pk]
    assert (check.status, check.requested_by, check.kind, check.is_final) == (RunState.PENDING, None, FEED, False)


def test_a_check_is_claimed_once_and_only_as_its_own_kind(feed: Feed) -> None:
    check = FeedCheck.objects.create(feed=feed)
    assert checks.claim(check.pk, TARGET) is False, "a feed check is not a target check"
    assert checks.claim(check.pk, FEED) is True
    assert checks.claim(check.pk, FEED) is False, "the second worker gets nothing"
    assert checks.claim(999_999, FEED) is False
    check.refresh_from_db()
    assert (check.status, check.attempts) == (RunState.RUNNING, 1) and check.started_at is not None


def test_finishing_records_the_result_and_cuts_the_detail(feed: Feed) -> None:
    check = FeedCheck.objects.create(feed=feed)
    checks.claim(check.pk, FEED)
    checks.finish(check, status=CheckStatus.UNAUTHORIZED, detail="x" * 5000, http_status=401)
    check.refresh_from_db()
    assert (check.status, check.http_status, len(check.detail)) == ("unauthorized", 401, checks.MAX_DETAIL)
    assert check.is_final and check.finished_at is not None


def test_finishing_with_a_run_state_is_refused(feed: Feed) -> None:
    with pytest.raises(ValueError, match="not a final status"):
        checks.finish(FeedCheck.objects.create(feed=feed), status=RunState.RUNNING, detail="")


def test_reconciling_fails_stuck_runs_and_requeues_old_pending_ones_of_its_kind_only(feed: Feed) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    stuck = FeedCheck.objects.create(feed=feed, status=RunState.RUNNING, started_at=long_ago)
    old = FeedCheck.objects.create(feed=feed, created_at=long_ago)
    fresh = FeedCheck.objects.create(feed=feed)
    busy = FeedCheck.objects.create(feed=feed, status=RunState.RUNNING, started_at=timezone.now())
    sent: list[int] = []

    def sweep(kind: str) -> checks.ReconcileResult:
        return checks.reconcile(
            kind,
            stuck_after=timedelta(minutes=10),
            requeue_after=timedelta(minutes=2),
            enqueue=sent.append,
            stuck_status=CheckStatus.ERROR,
            stuck_detail="gone",
        )

    assert sweep(TARGET).as_dict() == {"failed_stuck": 0, "requeued": 0} and sent == []
    assert sweep(FEED).as_dict() == {"failed_stuck": 1, "requeued": 1} and sent == [old.pk]
    statuses = dict(CheckRun.objects.values_list("pk", "status"))
    assert statuses == {stuck.pk: "error", old.pk: "pending", fresh.pk: "pending", busy.pk: "running"}
    stuck.refresh_from_db()
    assert stuck.detail == "gone" and stuck.finished_at is not None
