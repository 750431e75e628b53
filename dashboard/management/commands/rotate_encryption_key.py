"""Re-encrypt every stored secret with the primary key (the first of FIELD_ENCRYPTION_KEYS).

Safe to interrupt and run again: it works in small batches, each in its own transaction, and skips values that
are already on the primary key. Afterwards the old keys can be removed from FIELD_ENCRYPTION_KEYS.
"""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.services import audit_record
from core import crypto, keycheck
from core.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the primary key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        totals = {"rotated": 0, "already_primary": 0, "retired_keys": 0}
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            for field in fields:
                rotated, kept = self._rotate(model, field.attname, batch_size)
                totals["rotated"] += rotated
                totals["already_primary"] += kept
                if rotated or kept:
                    self.stdout.write(
                        f"{model._meta.label}.{field.name}: {rotated} re-encrypted, {kept} already current"
                    )
        # Every value is on the primary key now: the other keys' canaries are retired, so dropping those keys from
        # FIELD_ENCRYPTION_KEYS is not reported as a missing key at the next start (core.keycheck).
        keycheck.problems(record=True)
        totals["retired_keys"] = keycheck.retire_unused_canaries()
        audit_record(actor="cli", action="encryption.rotate_key", object_type="encryption", detail=totals)
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {totals['rotated']} re-encrypted, {totals['already_primary']} already on the primary key."
            )
        )

    def _rotate(self, model: Any, attname: str, batch_size: int) -> tuple[int, int]:
        rotated = kept = 0
        last_pk: Any = None
        while True:
            qs = model._base_manager.order_by("pk")
            if last_pk is not None:
                qs = qs.filter(pk__gt=last_pk)
            batch = list(qs.values_list("pk", attname)[:batch_size])
            if not batch:
                return rotated, kept
            with transaction.atomic():
                for pk, value in batch:
                    if not value or crypto.is_primary(value):
                        kept += 1
                        continue
                    try:
                        new_value = crypto.reencrypt(value)
                    except crypto.DecryptionError:
                        raise CommandError(
                            f"{model._meta.label} {pk}: cannot decrypt with any configured key. "
                            "Add the key it was encrypted with to FIELD_ENCRYPTION_KEYS and run again."
                        ) from None
                    model._base_manager.filter(pk=pk, **{attname: value}).update(**{attname: new_value})
                    rotated += 1
            last_pk = batch[-1][0]
