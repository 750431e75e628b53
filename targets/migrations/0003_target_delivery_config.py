"""Platform-specific columns of targets and deliveries move into a JSON ``config`` the adapter declares.

Targets: ``client_id`` (Databricks OAuth) and ``organization`` (Valohai) go to ``config``; the resolved
``organization_id`` goes to ``info``. Deliveries: ``scope``, ``key``, ``clusters``, ``env_var``, ``policy_id``,
``projects`` and ``variable`` go to ``config`` (only the non-empty ones). Reversible.
"""

from django.db import migrations, models

TARGET_FIELDS = ("client_id", "organization")
DELIVERY_FIELDS = ("scope", "key", "clusters", "env_var", "policy_id", "projects", "variable")


def forwards(apps, schema_editor):
    Target = apps.get_model("targets", "Target")
    Delivery = apps.get_model("targets", "Delivery")
    for target in Target.objects.all().iterator():
        target.config = {f: getattr(target, f) for f in TARGET_FIELDS if getattr(target, f)}
        if target.organization_id:
            target.info = {**(target.info or {}), "organization_id": target.organization_id}
        target.save(update_fields=["config", "info"])
    batch = []
    for delivery in Delivery.objects.all().iterator():
        delivery.config = {f: getattr(delivery, f) for f in DELIVERY_FIELDS if getattr(delivery, f)}
        batch.append(delivery)
        if len(batch) >= 500:
            Delivery.objects.bulk_update(batch, ["config"])
            batch = []
    Delivery.objects.bulk_update(batch, ["config"])


def backwards(apps, schema_editor):
    Target = apps.get_model("targets", "Target")
    Delivery = apps.get_model("targets", "Delivery")
    for target in Target.objects.all().iterator():
        for f in TARGET_FIELDS:
            setattr(target, f, (target.config or {}).get(f, ""))
        target.organization_id = str((target.info or {}).get("organization_id") or "")
        target.save(update_fields=[*TARGET_FIELDS, "organization_id"])
    for delivery in Delivery.objects.all().iterator():
        cfg = delivery.config or {}
        for f in DELIVERY_FIELDS:
            setattr(delivery, f, cfg.get(f, [] if f in ("clusters", "projects") else ""))
        delivery.save(update_fields=list(DELIVERY_FIELDS))


class Migration(migrations.Migration):
    dependencies = [("targets", "0002_push_heartbeat")]

    operations = [
        migrations.AddField(
            model_name="target",
            name="config",
            field=models.JSONField(blank=True, default=dict, help_text="The adapter's platform-specific settings."),
        ),
        migrations.AddField(
            model_name="delivery",
            name="config",
            field=models.JSONField(blank=True, default=dict, help_text="The adapter's settings for this mode."),
        ),
        migrations.RunPython(forwards, backwards),
        *[migrations.RemoveField(model_name="target", name=f) for f in (*TARGET_FIELDS, "organization_id")],
        *[migrations.RemoveField(model_name="delivery", name=f) for f in DELIVERY_FIELDS],
    ]
