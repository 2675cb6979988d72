"""Contract, part two: every old row checked, which fails in a schema the backfill has not finished."""

from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("contexts", "0003_context_content_length_check")]

    operations = [ValidateConstraint(model_name="context", name="contexts_content_length_known")]
