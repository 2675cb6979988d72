"""Contract, part one: the check holds for new rows at once, old ones unchecked (NOT VALID)."""

from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0002_context_content_length")]

    operations = [
        AddConstraintNotValid(
            model_name="context",
            constraint=models.CheckConstraint(
                name="contexts_content_length_known", condition=models.Q(content_length__isnull=False)
            ),
        ),
    ]
