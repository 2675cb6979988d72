"""Two index statements: the first on a table this migration creates (safe), the second a plain one on contexts."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contexts", "0007_context_title_not_blank")]

    operations = [
        migrations.CreateModel(
            name="ContextLabel",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=64)),
            ],
            options={"db_table": "context_labels"},
        ),
        migrations.AddIndex(
            model_name="contextlabel", index=models.Index(fields=["name"], name="context_labels_name_idx")
        ),
        migrations.AddIndex(model_name="context", index=models.Index(fields=["title"], name="contexts_title_idx")),
    ]
