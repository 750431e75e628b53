"""The database's guard of the audit history (triggers refusing UPDATE and DELETE, see audit/triggers.py) and the
trigram index behind text search (PostgreSQL only; a no-op on SQLite)."""

from django.db import migrations

from audit import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)
    triggers.install_search(schema_editor.connection)


def uninstall(apps, schema_editor):
    triggers.uninstall_search(schema_editor.connection)
    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_chain"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
