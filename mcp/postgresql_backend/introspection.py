"""django-tenants' introspection, with a tenant schema's django_migrations view reported as the table it stands for.

Each tenant schema's django_migrations is an updatable view over one table in public
(tenants.engine.applied_migrations). Django's MigrationRecorder decides whether
the table exists from `introspection.table_names()`, which leaves views out; it
would then try to create the table on the first migration and fail, and read
"nothing applied" meanwhile. Reporting that one view as a table tells the
recorder what is true: it can read and write the rows there.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.introspection import TableInfo
from django_tenants.postgresql_backend.introspection import DatabaseSchemaIntrospection

MIGRATIONS_TABLE = "django_migrations"


class DatabaseIntrospection(DatabaseSchemaIntrospection):
    def get_table_list(self, cursor: Any) -> list[TableInfo]:
        return [
            info._replace(type="t") if info.name == MIGRATIONS_TABLE and info.type == "v" else info
            for info in super().get_table_list(cursor)
        ]
