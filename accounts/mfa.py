"""The second factor: a TOTP authenticator (RFC 6238, django-otp) with single-use recovery codes. Required for the
roles in ``MFA_REQUIRED_ROLES`` (admins by default) when they sign in with a password; any user may add one.

A session is verified once a code was accepted in it (django-otp keeps the device in the session); the API's
bearer tokens are not sessions and are not asked for a code."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, RecoveryCodes
from audit.models import AuditEvent
from audit.services import audit_record
from core.roles import ROLES, remember_role, role_lookups, role_of

RECOVERY_CODES = 10
AUTHENTICATOR = "authenticator"
RECOVERY = "recovery codes"


def mfa_required(user: Any) -> bool:
    """Whether ``user`` must use a second factor to work in a password session."""
    if not getattr(user, "is_authenticated", False):
        return False
    required = set(settings.MFA_REQUIRED_ROLES)
    return role_of(user) in required or (bool(required) and user.is_superuser)


def has_second_factor(user: Any) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def has_second_factor_and_role(user: Any) -> bool:
    """:func:`has_second_factor`, asked in one query with the user's groups, whose role it remembers for the rest of
    the request (:func:`core.roles.role_of`): what every page of an unverified session needs, in one round trip
    instead of one per kind of device and one for the role. Read fresh on every request."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists
    from django_otp import device_classes

    devices = {
        f"device_{i}": Exists(model.objects.devices_for_user(user, confirmed=True))
        for i, model in enumerate(device_classes())
    }
    facts = get_user_model().objects.filter(pk=user.pk).values(**devices, **role_lookups()).first() or {}
    remember_role(user, {name for name in ROLES if facts.get(f"role_{name}")})
    return any(facts.get(key) for key in devices)


def pending_authenticator(user: Any) -> TOTPDevice:
    """The authenticator being set up (not yet confirmed with a code): one per user, made on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The authenticator's ``otpauth://`` URI as an inline SVG QR code (drawn here; nothing is fetched)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return str(image.to_string(encoding="unicode"))


def _new_code() -> str:
    """16 random base32 characters (80 bits), shown as four groups: ``abcd-efgh-ijkl-mnop``."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _new_recovery_codes(user: Any) -> list[str]:
    RecoveryCodes.objects.filter(user=user).delete()
    device = RecoveryCodes.objects.create(user=user, name=RECOVERY, confirmed=True)
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create([RecoveryCode(device=device, digest=RecoveryCodes.digest(c)) for c in codes])
    return codes


def mfa_confirm(*, request: Any, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it: it becomes the user's second factor (replacing an older
    one), the session counts as verified, and new recovery codes are returned (to be shown once). None when the
    code is wrong."""
    user = request.user
    if device.user_id != user.pk or not device.verify_token(token.strip().replace(" ", "")):
        audit_record(actor=user, action="mfa.setup_failed", obj=user, object_type="user", outcome="failure")
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action="mfa.enabled", obj=user, object_type="user")
    otp_login(request, device)
    return codes


def mfa_verify(*, request: Any, token: str) -> bool:
    """Accept a code from the user's authenticator or one of their recovery codes (used up) for this session.
    Wrong codes are throttled per device (django-otp doubles the wait after each failure)."""
    user = request.user
    token = token.strip().replace(" ", "")
    for device in devices_for_user(user, confirmed=True):
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            otp_login(request, device)
            method = "recovery code" if isinstance(device, RecoveryCodes) else "authenticator"
            audit_record(actor=user, action="mfa.verified", obj=user, object_type="user", detail={"method": method})
            return True
    audit_record(actor=user, action="mfa.failed", obj=user, object_type="user", outcome=AuditEvent.Outcome.FAILURE)
    return False


def recovery_codes_renew(*, user: Any) -> list[str]:
    """Replace the user's recovery codes (the old ones stop working)."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action="mfa.recovery_codes_renewed", obj=user, object_type="user")
    return codes
