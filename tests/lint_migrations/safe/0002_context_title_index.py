"""An index on a table with rows, built without blocking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("contexts", "0001_initial")]

    operations = [
        AddIndexConcurrently(model_name="context", index=models.Index(fields=["title"], name="contexts_title_idx")),
    ]
