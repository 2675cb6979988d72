"""A NOT NULL column with a volatile (callable) default: Django fills it with one value, then drops the default."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0002_context_title_index")]

    operations = [
        migrations.AddField(model_name="context", name="token", field=models.UUIDField(default=uuid.uuid4)),
    ]
