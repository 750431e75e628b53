"""Django's ``flush``, able to empty the audit history on SQLite.

PostgreSQL flushes with TRUNCATE, which row triggers do not see. SQLite flushes with DELETE, which the audit guard
triggers refuse, so there they are dropped for the flush and created again in the same transaction. Flushing
deletes every table's rows: it is never part of normal operation (the test runner uses it between tests).
"""

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections, transaction

from audit import triggers


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            super().handle(**options)
            return
        with transaction.atomic(using=connection.alias):
            triggers.uninstall(connection)
            super().handle(**options)
            triggers.install(connection)
