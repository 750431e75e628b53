"""Recompute every stored fingerprint after ``FINGERPRINT_KEY`` changed, then record the new key's canary so
web, worker and beat start again (``core.keycheck``).

Each stored secret that names itself by a fingerprint is decrypted and fingerprinted with the new key; that gives
a map from each old fingerprint to its new one, applied to every ``*fingerprint`` column outside the audit history
(deliveries, checks, rotations). The audit history is append-only and keeps the fingerprints it was written with;
an event records the map, so old events can still be followed. A destroyed token (a wiped retired version) keeps
its old fingerprint: nothing can compute a new one, and nothing live matches it. Safe to run again.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from audit.services import audit_record
from core import crypto, keycheck

# (model, encrypted field, the field holding its fingerprint)
SOURCES = (
    ("feeds.TokenVersion", "ciphertext", "fingerprint"),
    ("feeds.Connection", "credential", "credential_fingerprint"),
    ("targets.Target", "credential", "credential_fingerprint"),
    ("notifications.Channel", "target", "target_fingerprint"),
)
SKIP_APPS = frozenset({"audit"})


class Command(BaseCommand):
    help = "Recompute stored fingerprints with the current FINGERPRINT_KEY (run after changing it)."

    def handle(self, *args: Any, **options: Any) -> None:
        mapping: dict[str, str] = {}
        with transaction.atomic():
            for label, secret_field, fingerprint_field in SOURCES:
                try:
                    model = apps.get_model(label)
                except LookupError:
                    continue
                rows = model._base_manager.exclude(**{secret_field: ""}).only("pk", secret_field, fingerprint_field)
                for row in rows:
                    try:
                        plaintext = crypto.decrypt(getattr(row, secret_field))
                    except crypto.DecryptionError as exc:
                        raise CommandError(f"{label} {row.pk}: {exc}") from None
                    old, new = getattr(row, fingerprint_field), crypto.fingerprint(plaintext)
                    if old and old != new:
                        mapping[old] = new
            changed = self._apply(mapping)
            keycheck.record_fingerprint_key()
            audit_record(
                actor="cli",
                action="fingerprint.rekey",
                object_type="fingerprint",
                detail={"rows": changed, "map": mapping},
            )
        self.stdout.write(
            self.style.SUCCESS(f"Done: {len(mapping)} fingerprints recomputed, {changed} stored values updated.")
        )

    def _apply(self, mapping: dict[str, str]) -> int:
        changed = 0
        for model in apps.get_models():
            if model._meta.app_label in SKIP_APPS:
                continue
            fields = [
                f.attname
                for f in model._meta.concrete_fields
                if isinstance(f, models.CharField) and f.name.endswith("fingerprint")
            ]
            for attname in fields:
                for old, new in mapping.items():
                    changed += model._base_manager.filter(**{attname: old}).update(**{attname: new})
        return changed
