from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations


class Migration(migrations.Migration):
    """Validate the widened status check: a scan that lets reads and writes go on."""

    dependencies = [("contexts", "0003_summary_status_superseded")]

    operations = [ValidateConstraint(model_name="summary", name="summaries_status_valid")]
