"""Validate the constraint in its own migration: the scan takes a lock that lets reads and writes go on."""

from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("contexts", "0005_context_content_length_check")]

    operations = [
        ValidateConstraint(model_name="context", name="contexts_content_length_known"),
    ]
