"""A migration that fails in a tenant whose contexts share a title."""

from django.db import migrations, models

from tests.fleet_migrations import LATEST_REAL


class Migration(migrations.Migration):
    dependencies = [LATEST_REAL]

    operations = [
        migrations.AddConstraint(
            model_name="context",
            constraint=models.UniqueConstraint(fields=["title"], name="contexts_title_unique_test"),
        ),
    ]
