"""A NOT NULL column without a default: fails outright on a table with rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0004_context_version_bigint")]

    operations = [
        migrations.AddField(model_name="context", name="priority", field=models.IntegerField(), preserve_default=False),
    ]
