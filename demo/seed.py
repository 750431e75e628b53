"""Seeding the demo through the services layer (never the ORM for business objects): an admin, an API token, two
feeds, and each platform's targets and deliveries (:mod:`demo.platform`). Runs in the demo process after
``django.setup()``."""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from demo.platform import DEMO_FEED, Running, SeedContext
from demo.services import Index


@dataclass
class Login:
    username: str
    password: str  # what to print: the password, or where it came from
    api_token: str


@dataclass
class Seeded:
    feeds: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)
    deliveries: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def migrate() -> None:
    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())


def ensure_admin() -> Login:
    """The demo admin: ``admin`` with a random password, or the DJANGO_SUPERUSER_* values when set; plus a fresh
    API token issued the way ``manage.py issue_api_token`` does it."""
    User = get_user_model()
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
    given = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        User.objects.create_superuser(
            username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""), password=password
        )
        shown = "(from DJANGO_SUPERUSER_PASSWORD)" if given else password
    elif given:
        user.set_password(given)
        user.save(update_fields=["password"])
        shown = "(from DJANGO_SUPERUSER_PASSWORD)"
    else:
        shown = "(unchanged: the user already existed in this database)"
    out = io.StringIO()
    call_command("issue_api_token", username, "--name", "demo", stdout=out)
    token = out.getvalue().strip().splitlines()[-1].strip()
    return Login(username=username, password=shown, api_token=token)


def user_named(username: str) -> Any:
    User = get_user_model()
    return User.objects.get(**{User.USERNAME_FIELD: username})


def wait_until(done: Callable[[], bool], alive: Callable[[], None], timeout: float) -> bool:
    """Poll ``done`` (calling ``alive``, which raises when a child died, before each poll) until it is true or
    ``timeout`` seconds passed; True when it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        if done():
            return True
        time.sleep(0.25)
    return False


def _no_alive_check() -> None:
    return None


def seed(
    *,
    username: str,
    index: Index,
    platforms: Sequence[Running[Any]],
    say: Callable[[str], None],
    alive: Callable[[], None] = _no_alive_check,
    settle_timeout: float = 30,
) -> Seeded:
    """Seed the demo as ``username``: two feeds on ``index`` (``acme-private`` with its valid token, ``legacy-feed``
    with a wrong one), then each platform's targets and deliveries (see :mod:`demo.platform`), printing one line
    each with ``say``.

    Deliveries are created after the targets' first health checks (queued by their creation) have ended, waiting
    at most ``settle_timeout`` seconds (0: do not wait), so those checks never report a delivery as missing."""
    from core.models import RunState
    from feeds.models import Feed
    from feeds.services import feed_check_request, feed_create
    from targets.models import TargetCheck

    actor = user_named(username)
    out = Seeded()
    now = timezone.now()

    connection = None
    if index.admin_token:
        from feeds.connections import connection_create
        from feeds.models import Connection

        connection = Connection.objects.filter(name="jfrog-demo").first() or connection_create(
            actor=actor, kind="jfrog", name="jfrog-demo", url=index.base_url, token=index.admin_token
        )

    def feed(name: str, token: str, days: int, **kind: Any) -> Any:
        existing = Feed.objects.filter(name=name).first()  # read-only: a second run reuses the first one's
        if existing is not None:
            out.notes.append(f"Feed {name} already existed; left as it is.")
            feed_check_request(actor=actor, feed=existing)
            return existing
        return feed_create(  # queues the feed's first check
            actor=actor,
            name=name,
            username=index.username,
            token=token,
            token_expires_at=now + timedelta(days=days),
            **(kind or {"kind": "generic", "index_url": index.url}),
        )

    jfrog = (
        {
            "kind": "jfrog",
            "base_url": index.base_url,
            "repository": index.repository,
            "rotation_connection": connection.pk,
        }
        if connection is not None
        else {}
    )
    out.feeds[DEMO_FEED] = feed(DEMO_FEED, index.token, days=5, **jfrog)
    out.feeds["legacy-feed"] = feed("legacy-feed", "pypi-revoked-" + secrets.token_urlsafe(8), days=120)
    say(
        f"  feeds: {DEMO_FEED} (valid token, expires in 5 days; rotates through the JFrog connection), "
        "legacy-feed (wrong token: its check fails)"
    )

    ctx = SeedContext(actor=actor, feeds=out.feeds, targets=out.targets, notes=out.notes)
    for running in platforms:
        seeding = running.seed(ctx)
        say(f"  {seeding.line}")
        out.notes.extend(seeding.notes)

    target_ids = [t.pk for t in out.targets.values()]

    def first_checks_done() -> bool:
        return not TargetCheck.objects.filter(target_id__in=target_ids, status__in=RunState.values).exists()

    if ctx.planned and settle_timeout > 0 and not wait_until(first_checks_done, alive, settle_timeout):
        say(f"  (the targets' first health checks still run after {settle_timeout:.0f}s; delivering anyway)")
    out.deliveries = ctx.create_planned()
    say(f"  deliveries: {len(out.deliveries)} created, their first pushes queued")
    return out
