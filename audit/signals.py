"""Events that have no service in between are audited from signals: logins, failed logins and logouts (Django's
auth signals), users and groups (roles) created, changed or deleted, role membership, and every change made
through ``/admin/`` (Django's admin writes a ``LogEntry`` for each)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from audit.context import client_ip, current_actor, current_request
from audit.models import AuditEvent
from audit.services import audit_record

# What a user change records; the password only as "changed".
USER_FIELDS = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")
_ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def _ip(request: Any) -> dict[str, str]:
    request = request if request is not None else current_request()
    return {"ip": client_ip(request)} if request is not None else {}


@receiver(user_logged_in)
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="login", obj=user, object_type="user", detail=_ip(request))


@receiver(user_logged_out)
def record_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action="logout", obj=user, object_type="user", detail=_ip(request))


@receiver(user_login_failed)
def record_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if getattr(request, "axes_locked_out", False):
        return  # a try during a lockout: the lockout itself is recorded once (accounts.signals)
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        actor=username or "anonymous",
        action="login_failed",
        object_type="user",
        object_repr=username,
        outcome=AuditEvent.Outcome.FAILURE,
        detail=_ip(request),
    )


@receiver(pre_save, sender=User)
def remember_user_before(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    before = User.objects.filter(pk=instance.pk).values(*USER_FIELDS, "password").first()
    instance._audit_before = before  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def record_user_saved(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        detail = {f: getattr(instance, f) for f in USER_FIELDS if f != "username"}
        audit_record(actor=current_actor(), action="user.create", obj=instance, object_type="user", detail=detail)
        return
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None  # type: ignore[attr-defined]
    if not before:
        return
    changed: dict[str, Any] = {
        f: [before[f], getattr(instance, f)] for f in USER_FIELDS if before[f] != getattr(instance, f)
    }
    if before["password"] != instance.password:
        changed["password"] = "changed"
    if changed:
        audit_record(
            actor=current_actor(), action="user.update", obj=instance, object_type="user", detail={"changed": changed}
        )


@receiver(post_delete, sender=User)
def record_user_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    audit_record(actor=current_actor(), action="user.delete", obj=instance, object_type="user")


@receiver(post_save, sender=Group)
def record_group_saved(sender: Any, instance: Group, created: bool, **kwargs: Any) -> None:
    action = "group.create" if created else "group.update"
    audit_record(actor=current_actor(), action=action, obj=instance, object_type="group")


@receiver(post_delete, sender=Group)
def record_group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    audit_record(actor=current_actor(), action="group.delete", obj=instance, object_type="group")


@receiver(m2m_changed, sender=User.groups.through)
def record_membership(sender: Any, instance: Any, action: str, pk_set: Any, reverse: bool, **kwargs: Any) -> None:
    """A user added to or removed from a group (a role), from either side of the relation."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if action == "pre_clear":
        related = instance.user_set if reverse else instance.groups
        pk_set = set(related.values_list("pk", flat=True))
        verb = "remove"
    else:
        verb = "add" if action == "post_add" else "remove"
    if not pk_set:
        return
    if reverse:  # group.user_set.add(users)
        pairs = [(user, instance) for user in User.objects.filter(pk__in=pk_set)]
    else:  # user.groups.add(groups)
        pairs = [(instance, group) for group in Group.objects.filter(pk__in=pk_set)]
    for user, group in pairs:
        audit_record(
            actor=current_actor(),
            action=f"user.group_{verb}",
            obj=user,
            object_type="user",
            detail={"group": group.name},
        )


@receiver(post_save, sender=LogEntry)
def record_admin_change(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """Anything added or changed through /admin/: the admin's own log entry, as an audit event. (Deletions are
    recorded by :func:`record_admin_delete`: the admin writes the log entries of a bulk delete with
    ``bulk_create``, which sends no signal.)"""
    if not created or instance.action_flag == DELETION:
        return
    content_type = instance.content_type
    audit_record(
        actor=instance.user,
        action=_ADMIN_ACTIONS.get(instance.action_flag, "admin.change"),
        object_type=content_type.model if content_type else "",
        object_id=instance.object_id or "",
        object_repr=instance.object_repr,
        detail={"change": instance.get_change_message(), "via": "admin", **_ip(None)},
    )


def _in_admin(request: Any) -> bool:
    return request is not None and request.method == "POST" and str(request.path).startswith("/admin/")


@receiver(post_delete)
def record_admin_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Every row deleted while an admin page is being posted (a single or a bulk delete, and what cascades)."""
    request = current_request()
    if not _in_admin(request) or sender in (LogEntry, AuditEvent) or sender._meta.app_label == "sessions":
        return
    audit_record(
        actor=current_actor(),
        action="admin.delete",
        object_type=sender._meta.model_name or "",
        object_id=str(instance.pk or ""),
        object_repr=str(instance)[:255],
        detail={"via": "admin", **_ip(request)},
    )
