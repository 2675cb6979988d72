"""One new nullable column: the everyday migration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0001_initial")]

    operations = [
        migrations.AddField(model_name="context", name="note", field=models.TextField(null=True, blank=True)),
    ]
