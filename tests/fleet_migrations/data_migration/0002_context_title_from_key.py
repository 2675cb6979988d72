"""A data migration: each row's new title comes from that row, so its SQL differs from tenant to tenant."""

from django.db import migrations

from tests.fleet_migrations import LATEST_REAL


def title_from_key(apps, schema_editor):
    Context = apps.get_model("contexts", "Context")
    for context in Context.objects.all():
        context.title = context.key.upper()
        context.save(update_fields=["title"])


def clear_title(apps, schema_editor):
    apps.get_model("contexts", "Context").objects.update(title="")


class Migration(migrations.Migration):
    dependencies = [LATEST_REAL]

    operations = [migrations.RunPython(title_from_key, clear_title)]
