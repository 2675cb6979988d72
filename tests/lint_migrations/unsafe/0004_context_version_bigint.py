"""A column type change: rewrites contexts under an exclusive lock."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0003_context_token")]

    operations = [
        migrations.AlterField(model_name="context", name="version", field=models.BigIntegerField(default=1)),
    ]
