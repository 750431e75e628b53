from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("targets", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="push",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, null=True, help_text="Last sign of life of the worker running this push."
            ),
        ),
        migrations.AddIndex(
            model_name="push",
            index=models.Index(fields=["status", "heartbeat_at"], name="targets_pus_status_hb_idx"),
        ),
    ]
