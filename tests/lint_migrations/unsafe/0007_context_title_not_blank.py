"""A CHECK constraint added without NOT VALID: scans all of contexts under a lock that blocks reads and writes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0006_context_secret")]

    operations = [
        migrations.AddConstraint(
            model_name="context",
            constraint=models.CheckConstraint(name="contexts_title_not_blank", condition=~models.Q(title="")),
        ),
    ]
