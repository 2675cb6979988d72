"""Expand: the README's backfill example, step 1: a nullable column (catalog only)."""

from django.db import migrations, models

from tests.fleet_migrations import LATEST_REAL


class Migration(migrations.Migration):
    dependencies = [LATEST_REAL]

    operations = [
        migrations.AddField(model_name="context", name="content_length", field=models.IntegerField(null=True)),
    ]
