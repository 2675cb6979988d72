"""A column whose database default is volatile: PostgreSQL rewrites the table to fill every row."""

from django.contrib.postgres.functions import RandomUUID
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0005_context_priority")]

    operations = [
        migrations.AddField(model_name="context", name="secret", field=models.UUIDField(db_default=RandomUUID())),
    ]
