from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models
from django.db.models import Q

STATUSES = ["pending", "running", "succeeded", "failed", "superseded"]


class Migration(migrations.Migration):
    """A summary may be superseded by a newer request; the status check admits it (NOT VALID: no scan, no lock)."""

    dependencies = [("contexts", "0002_context_search_vector")]

    operations = [
        migrations.AlterField(
            model_name="summary",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("running", "Running"), ("succeeded", "Succeeded"),
                         ("failed", "Failed"), ("superseded", "Superseded")],
                default="pending", max_length=16,
            ),
        ),
        migrations.RemoveConstraint(model_name="summary", name="summaries_status_valid"),
        # Going back, the old check returns: a superseded summary reads as failed, with the reason.
        migrations.RunSQL(
            sql=migrations.RunSQL.noop,
            reverse_sql="UPDATE summaries SET status = 'failed', last_error = 'Superseded by a newer request.' "
                        "WHERE status = 'superseded'",
        ),
        AddConstraintNotValid(
            model_name="summary",
            constraint=models.CheckConstraint(condition=Q(status__in=STATUSES), name="summaries_status_valid"),
        ),
    ]
