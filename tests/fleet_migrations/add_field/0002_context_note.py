"""One new nullable column: the everyday migration."""

from django.db import migrations, models

from tests.fleet_migrations import LATEST_REAL


class Migration(migrations.Migration):
    dependencies = [LATEST_REAL]

    operations = [
        migrations.AddField(model_name="context", name="note", field=models.TextField(null=True, blank=True)),
    ]
