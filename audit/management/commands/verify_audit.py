"""``manage.py verify_audit``: recompute the audit hash chain; exit 0 when intact, 1 when broken."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import audit_verify


class Command(BaseCommand):
    help = "Verify the audit history's hash chain. Exit status 1 names the first broken event."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if result.intact:
            self.stdout.write(f"intact: {result.events} events verified")
            return
        where = f"event {result.first_broken}" if result.first_broken is not None else "the end of the chain"
        raise CommandError(f"broken at {where}: {result.reason} ({result.events} events verified before it)")
