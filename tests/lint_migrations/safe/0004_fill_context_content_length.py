"""Fill the new column in batches, each committed on its own, so no row stays locked for long."""

from django.db import migrations
from django.db.models.functions import Length

BATCH_SIZE = 1000


def fill_content_length(apps, schema_editor):
    Context = apps.get_model("contexts", "Context")
    while ids := list(Context.objects.filter(content_length=None).values_list("id", flat=True)[:BATCH_SIZE]):
        Context.objects.filter(id__in=ids).update(content_length=Length("content"))


class Migration(migrations.Migration):
    atomic = False  # one transaction per batch, not one for the whole table

    dependencies = [("contexts", "0003_context_content_length")]

    operations = [
        # Going back, 0003's reverse drops the column, so there is nothing to undo here.
        migrations.RunPython(fill_content_length, migrations.RunPython.noop),
    ]
