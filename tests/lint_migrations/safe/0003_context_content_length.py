"""A new column, nullable: adding it touches only the catalog."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0002_context_title_index")]

    operations = [
        migrations.AddField(model_name="context", name="content_length", field=models.IntegerField(null=True)),
    ]
