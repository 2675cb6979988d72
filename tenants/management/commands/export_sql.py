"""Write the SQL that builds the public schema and a tenant schema, for a DBA to apply with psql."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from tenants.engine.sql_export import BASE_FILE, TENANT_FILE, base_schema_sql, tenant_schema_sql
from tenants.management.base import ProjectCommand


class Command(ProjectCommand):
    needs_session = True  # runs migrations (tenants.session_database: MIGRATION_DATABASE_URL, no transaction pooler)
    help = (
        f"Write {BASE_FILE} (the public schema) and {TENANT_FILE} (one tenant schema, named with "
        "`psql -v schema=tenant_<slug>`) into --output-dir. With --tenant SLUG, print instead the tenant SQL "
        "for that slug (validated) on stdout, ready for `| psql`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output-dir", default="sql", help="Where to write the files (default: sql).")
        parser.add_argument("--tenant", metavar="SLUG", help="Print the SQL for this tenant's schema to stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        # An ExportError (pg_dump missing or failing) is a TenantError: ProjectCommand prints its one line.
        if options["tenant"]:
            self.stdout.write(tenant_schema_sql(slug=options["tenant"]), ending="")
            return
        output_dir = Path(options["output_dir"])
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / BASE_FILE).write_text(base_schema_sql())
        (output_dir / TENANT_FILE).write_text(tenant_schema_sql())
        # Everything but SQL goes to stderr, so that stdout can be piped to psql.
        self.stderr.write(f"Wrote {output_dir / BASE_FILE} and {output_dir / TENANT_FILE}.")
