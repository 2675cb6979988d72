"""Drop a foreign key's constraint: Django sends "SET CONSTRAINTS … IMMEDIATE; ALTER TABLE … DROP CONSTRAINT" as one."""

import django.db.models.deletion
from django.db import migrations, models

from tests.fleet_migrations import LATEST_REAL


class Migration(migrations.Migration):
    dependencies = [LATEST_REAL]

    operations = [
        migrations.AlterField(
            model_name="summary",
            name="context",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="summaries",
                to="contexts.context",
            ),
        ),
    ]
