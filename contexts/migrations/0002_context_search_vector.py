"""Full-text search over key, title and content: a stored generated tsvector and its GIN index.

Adding a stored generated column computes it for every row, so the table is
rewritten under an exclusive lock either way (reviewed, see REVIEWED_MIGRATIONS);
the index is built inside the same lock rather than concurrently afterwards, so
that the migration stays atomic and a tenant is never left with the column but
no index.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contexts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="context",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.CombinedSearchVector(
                    django.contrib.postgres.search.SearchVector("key", "title", config="english", weight="A"),
                    "||",
                    django.contrib.postgres.search.SearchVector("content", config="english", weight="B"),
                    django.contrib.postgres.search.SearchConfig("english"),
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="context",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="contexts_search_gin"),
        ),
    ]
