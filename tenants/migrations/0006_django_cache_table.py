"""The table of Django's database cache, which holds the request budgets when no Redis is configured.

The same table `manage.py createcachetable` would create for CACHES["default"], made by a migration so
that every database that is migrated has it (tests, CI, the embedded server) without another command.
It lives in public: tenant requests find it there through their search path (tenant schema, then public).
"""

from django.db import migrations

# Statement by statement, each as createcachetable prints it for this LOCATION (manage.py createcachetable
# itself creates nothing here: django-tenants' router lets no app but the shared ones into public).
CREATE = [
    'CREATE TABLE "django_cache" ("cache_key" varchar(255) NOT NULL PRIMARY KEY, "value" text NOT NULL, '
    '"expires" timestamp with time zone NOT NULL);',
    'CREATE INDEX "django_cache_expires" ON "django_cache" ("expires");',
]


class Migration(migrations.Migration):

    dependencies = [
        ("tenants", "0005_api_keys"),
    ]

    operations = [
        migrations.RunSQL(CREATE, reverse_sql='DROP TABLE "django_cache";'),
    ]
