"""A plain CREATE INDEX: blocks every write to contexts while the index builds."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0001_initial")]

    operations = [
        migrations.AddIndex(model_name="context", index=models.Index(fields=["title"], name="contexts_title_idx")),
    ]
