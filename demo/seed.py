"""Seeding the demo through the services layer (never the ORM for business objects): an admin, an API token, two
feeds, the targets and their deliveries. Runs in the demo process after ``django.setup()``."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from demo.services import Databricks, Index, Valohai

SECRET_SCOPE = "acme-pypi"
SECRET_KEY_NAME = "index-url"


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
    valohai: bool = False


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


def _existing(model: Any, name: str) -> Any:
    """Read-only lookup, so a second run against the same DATABASE_URL reuses what the first one created."""
    return model.objects.filter(name=name).first()


def seed(*, username: str, index: Index, dbx: Databricks, vh: Valohai, say: Callable[[str], None]) -> Seeded:
    from feeds.models import Feed
    from feeds.services import feed_check_request, feed_create
    from targets.adapters import REGISTRY
    from targets.models import Target

    actor = user_named(username)
    out = Seeded()
    now = timezone.now()

    def feed(name: str, token: str, days: int) -> Any:
        existing = _existing(Feed, name)
        if existing is not None:
            out.notes.append(f"Feed {name} already existed; left as it is.")
            return existing
        return feed_create(
            actor=actor,
            name=name,
            kind="generic",
            index_url=index.url,
            username=index.username,
            token=token,
            token_expires_at=now + timedelta(days=days),
        )

    out.feeds["acme-private"] = feed("acme-private", index.token, days=5)
    out.feeds["legacy-feed"] = feed("legacy-feed", "pypi-revoked-" + secrets.token_urlsafe(8), days=120)
    for f in out.feeds.values():
        feed_check_request(actor=actor, feed=f)
    say("  feeds: acme-private (valid token, expires in 5 days), legacy-feed (wrong token: its check fails)")

    def target(name: str, kind: str, **values: Any) -> Any:
        from targets.services import target_create

        existing = _existing(Target, name)
        if existing is not None:
            out.notes.append(f"Target {name} already existed; left as it is.")
            return existing
        return target_create(actor=actor, name=name, kind=kind, **values)

    out.targets["databricks-analytics"] = target(
        "databricks-analytics", "databricks", url=dbx.urls[0], auth_type="pat", token=dbx.token
    )
    out.targets["databricks-ml"] = target(
        "databricks-ml",
        "databricks",
        url=dbx.urls[1],
        auth_type="oauth_m2m",
        client_id=dbx.sp_client_id,
        client_secret=dbx.sp_client_secret,
    )
    say(f"  targets: databricks-analytics (PAT, {dbx.urls[0]}), databricks-ml (OAuth M2M, {dbx.urls[1]})")

    acme = out.feeds["acme-private"]
    _deliver(out, acme, out.targets["databricks-analytics"], mode="workspace_default", actor=actor)
    _deliver(out, acme, out.targets["databricks-ml"], mode="workspace_default", actor=actor)
    _deliver(
        out,
        acme,
        out.targets["databricks-analytics"],
        mode="secret",
        scope=SECRET_SCOPE,
        key=SECRET_KEY_NAME,
        clusters=[dbx.cluster_id],
        actor=actor,
    )
    say(
        f"  deliveries: workspace_default on both workspaces; secret {SECRET_SCOPE}/{SECRET_KEY_NAME} wired to "
        f"cluster {dbx.cluster_name} ({dbx.cluster_id})"
    )

    adapter = REGISTRY.get("valohai")
    if adapter is not None and "project_variable" in (getattr(adapter, "modes", None) or {}):
        out.targets["valohai-acme"] = target(
            "valohai-acme", "valohai", url=vh.url, auth_type="token", token=vh.token, organization=vh.organization
        )
        _deliver(out, acme, out.targets["valohai-acme"], mode="project_variable", projects=["*"], actor=actor)
        out.valohai = True
        say(f"  valohai: target valohai-acme (organization {vh.organization}), project_variable on every project")
    else:
        out.notes.append(
            "The Valohai adapter is not registered yet (targets/adapters/valohai.py): no Valohai "
            "target or delivery was created. The simulator runs anyway."
        )
    return out


def _deliver(out: Seeded, feed: Any, target: Any, *, actor: Any, **values: Any) -> None:
    from targets.services import delivery_create

    try:
        out.deliveries.append(delivery_create(actor=actor, feed=feed, target=target, **values))
    except ValidationError as exc:
        out.notes.append(
            f"Delivery of {feed} to {target} ({values.get('mode')}) not created: {'; '.join(exc.messages)}"
        )
