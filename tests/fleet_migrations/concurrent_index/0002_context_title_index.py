"""The README's safe index: CREATE INDEX CONCURRENTLY, which cannot run in a transaction."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from tests.fleet_migrations import LATEST_REAL


class Migration(migrations.Migration):
    atomic = False

    dependencies = [LATEST_REAL]

    operations = [
        AddIndexConcurrently(model_name="context", index=models.Index(fields=["title"], name="contexts_title_idx")),
    ]
