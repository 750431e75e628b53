"""``manage.py prune_audit [--days N]``: delete events older than the retention, recording an anchor."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.chain import audit_prune


class Command(BaseCommand):
    help = "Delete audit events older than AUDIT_RETENTION_DAYS (or --days); the chain stays verifiable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Keep this many days (default: the setting).")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_prune(days=options["days"])
        if result.anchor is None:
            self.stdout.write("nothing to prune")
        else:
            self.stdout.write(f"pruned {result.pruned} events; anchor at seq {result.anchor.seq}")
