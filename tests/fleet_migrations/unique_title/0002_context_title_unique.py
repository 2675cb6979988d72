"""A migration that fails in a tenant whose contexts share a title."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0001_initial")]

    operations = [
        migrations.AddConstraint(
            model_name="context",
            constraint=models.UniqueConstraint(fields=["title"], name="contexts_title_unique_test"),
        ),
    ]
