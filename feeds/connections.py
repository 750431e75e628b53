"""Connection workflows: create, update, delete, check, and the browser consent of an Azure DevOps connection.
Each is atomic with its audit event; secrets are encrypted on the way in and never come back out."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.urlpolicy import validate_service_url
from feeds.models import Connection, ConnectionStatus
from feeds.providers import REGISTRY
from feeds.providers.base import ProviderError
from feeds.services import validate_token

COMMON_FIELDS = ("name", "kind", "url")
SECRET_FIELDS = {"token": "credential", "client_secret": "client_secret"}
PLAIN_FIELDS = ("tenant_id", "client_id")


def _clean(kind: str, values: dict[str, Any], *, existing: Connection | None = None) -> dict[str, Any]:
    provider = REGISTRY.get(kind)
    if provider is None:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; choose one of {', '.join(REGISTRY)}."})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {"kind": kind}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = "Enter a name."
    elif Connection.objects.filter(name__iexact=name).exclude(pk=existing.pk if existing else -1).exists():
        errors["name"] = "A connection with this name already exists."
    cleaned["name"] = name[:100]
    try:
        cleaned["url"] = validate_service_url(str(values.get("url") or "").strip().rstrip("/"), what="URL")
    except ValidationError as exc:
        errors["url"] = " ".join(exc.messages)
    used = {f.name for f in provider.fields}
    for field in provider.fields:
        value = values.get(field.name)
        if field.secret:
            if value:
                try:
                    validate_token(str(value), field=field.name)
                except ValidationError as exc:
                    errors[field.name] = " ".join(exc.messages)
                cleaned[field.name] = str(value)
            elif existing is None and field.required:
                errors[field.name] = "This field is required."
        else:
            text = str(value if value is not None else (getattr(existing, field.name) if existing else "")).strip()
            if field.required and not text:
                errors[field.name] = "This field is required."
            cleaned[field.name] = text[:100]
    for other in (*SECRET_FIELDS, *PLAIN_FIELDS):
        if other not in used and values.get(other):
            errors[other] = f"Not used by {provider.label} connections."
    if errors:
        raise ValidationError(errors)
    return cleaned


def _apply(connection: Connection, cleaned: dict[str, Any]) -> list[str]:
    """Set the cleaned values; returns the names of the fields that changed (secrets by name only)."""
    changed = []
    for field in (*COMMON_FIELDS, *PLAIN_FIELDS):
        if field in cleaned and getattr(connection, field) != cleaned[field]:
            setattr(connection, field, cleaned[field])
            changed.append(field)
    for field, column in SECRET_FIELDS.items():
        if cleaned.get(field):
            connection.set_secret(column, cleaned[field])
            changed.append(field)
    return changed


@transaction.atomic
def connection_create(*, actor: Any, kind: str, **values: Any) -> Connection:
    cleaned = _clean(kind, values)
    connection = Connection(kind=kind)
    _apply(connection, cleaned)
    connection.save()
    audit_record(
        actor=actor,
        action="connection.create",
        obj=connection,
        detail={"kind": kind, "url": connection.url, "fingerprint": connection.credential_fingerprint},
        secrets=[cleaned.get(f, "") for f in SECRET_FIELDS],
    )
    if not REGISTRY[kind].needs_browser_consent:
        connection_check_request(actor=actor, connection=connection)
    return connection


@transaction.atomic
def connection_update(*, actor: Any, connection: Connection, **values: Any) -> Connection:
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if "kind" in values and values["kind"] != connection.kind:
        raise ValidationError({"kind": "The kind of a connection cannot change: create another one."})
    merged = {"name": connection.name, "url": connection.url, **{k: v for k, v in values.items() if k != "kind"}}
    cleaned = _clean(connection.kind, merged, existing=connection)
    origin_changed = cleaned["url"] != connection.url
    identity_changed = any(cleaned.get(f) != getattr(connection, f) for f in PLAIN_FIELDS if f in cleaned)
    if (origin_changed or identity_changed) and not any(cleaned.get(f) for f in SECRET_FIELDS):
        secret = next(f.name for f in REGISTRY[connection.kind].fields if f.secret)
        raise ValidationError(
            {secret: "Enter the secret again to point this connection elsewhere: it never goes to a new place unasked."}
        )
    changed = _apply(connection, cleaned)
    if origin_changed or identity_changed:
        connection.refresh_token = ""
        connection.status = ConnectionStatus.UNKNOWN
    connection.save()
    if changed:
        audit_record(
            actor=actor,
            action="connection.update",
            obj=connection,
            detail={"changed": changed, "fingerprint": connection.credential_fingerprint},
            secrets=[cleaned.get(f, "") for f in SECRET_FIELDS],
        )
    return connection


@transaction.atomic
def connection_delete(*, actor: Any, connection: Connection) -> None:
    feeds = list(connection.feeds.values_list("name", flat=True))  # type: ignore[attr-defined]
    if feeds:
        raise ValidationError(
            {"non_field_errors": "These feeds rotate with this connection: " + ", ".join(sorted(feeds)) + "."}
        )
    audit_record(actor=actor, action="connection.delete", obj=connection, detail={"kind": connection.kind})
    connection.delete()


def connection_check_request(*, actor: Any, connection: Connection) -> Connection:
    """Queue a check of the connection (its status says how it went)."""
    from feeds.tasks import check_connection

    connection_id = connection.pk
    transaction.on_commit(lambda: check_connection.delay(connection_id))
    return connection


def connection_check_run(connection_id: int) -> Connection:
    connection = Connection.objects.get(pk=connection_id)
    provider = connection.provider(connection)
    try:
        outcome = provider.check()
        status, detail = outcome.status, outcome.detail
    except ProviderError as exc:
        status = ConnectionStatus.NEEDS_CONSENT if exc.needs_consent else ConnectionStatus.FAILING
        detail = str(exc)
    with transaction.atomic():
        Connection.objects.filter(pk=connection_id).update(
            status=status, status_detail=detail[:2000], checked_at=timezone.now()
        )
        audit_record(
            actor="system",
            action="connection.check",
            obj=connection,
            outcome=AuditEvent.Outcome.SUCCESS if status == ConnectionStatus.OK else AuditEvent.Outcome.FAILURE,
            detail={"status": status, "detail": detail},
        )
    connection.refresh_from_db()
    return connection


def consent_begin(connection: Connection, redirect_uri: str) -> dict[str, Any]:
    """Start the browser consent (Azure DevOps): the msal flow to keep in the session; send the browser to its
    ``auth_uri``."""
    provider = connection.provider(connection)
    if not getattr(provider, "needs_browser_consent", False):
        raise ValidationError({"kind": "This kind of connection needs no consent in the browser."})
    try:
        return dict(provider.begin_consent(redirect_uri))
    except ProviderError as exc:
        raise ValidationError({"non_field_errors": str(exc)}) from None


def consent_complete(*, actor: Any, connection: Connection, flow: dict[str, Any], answer: dict[str, str]) -> Connection:
    """Redeem the authorization Entra sent back and keep its refresh token (encrypted)."""
    provider = connection.provider(connection)
    try:
        refresh_token, user = provider.complete_consent(flow, answer)
    except ProviderError as exc:
        with transaction.atomic():
            Connection.objects.filter(pk=connection.pk).update(
                status=ConnectionStatus.NEEDS_CONSENT, status_detail=str(exc)[:2000], checked_at=timezone.now()
            )
            audit_record(
                actor=actor,
                action="connection.connect",
                obj=connection,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"error": str(exc)},
            )
        raise ValidationError({"non_field_errors": str(exc)}) from None
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        connection.set_secret("refresh_token", refresh_token)
        connection.consented_by = user[:200]
        connection.status = ConnectionStatus.OK
        connection.status_detail = f"Connected as {user or 'the signed-in user'}."
        connection.checked_at = timezone.now()
        connection.save()
        audit_record(
            actor=actor,
            action="connection.connect",
            obj=connection,
            detail={"consented_by": user},
            secrets=[refresh_token],
        )
    return connection
