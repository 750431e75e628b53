"""A user's API tokens die with the credentials they were issued under: changing the password (by the user, an
admin, ``changepassword`` or a reset) or deactivating the user revokes every token of theirs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from dashboard.services import api_tokens_revoke_for_user

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="dashboard.api_tokens.remember_credentials")
def _remember_credentials(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    before = sender._base_manager.filter(pk=instance.pk).values("password", "is_active").first()
    instance._feedkeeper_credentials_before = before


@receiver(post_save, sender=User, dispatch_uid="dashboard.api_tokens.revoke_on_credential_change")
def _revoke_on_credential_change(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    before = getattr(instance, "_feedkeeper_credentials_before", None)
    instance._feedkeeper_credentials_before = None
    if raw or created or not before:
        return
    if before["is_active"] and not instance.is_active:
        reason = "user deactivated"
    elif before["password"] != instance.password:
        reason = "password changed"
    else:
        return
    api_tokens_revoke_for_user(actor="system", user=instance, reason=reason)
