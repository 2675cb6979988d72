"""SQL files a DBA can read and apply with psql, without Python.

001 builds the public schema: pg_dump of the migrated public schema's
structure, plus the rows Django itself needs (django_migrations, content types,
permissions) and the public tenant. 002 builds one tenant schema from the
tenant-template script, the schema name a psql variable (and its django_migrations
view, whose rows go to public.tenant_django_migrations, which 001 creates).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from django.db import connection

from tenants.engine.applied_migrations import view_statements
from tenants.engine.template import SCHEMA_PLACEHOLDER, current_script
from tenants.errors import ExportError
from tenants.naming import quote_schema, schema_name_for

BASE_FILE = "001_create_base_schema.sql"
TENANT_FILE = "002_create_tenant_schema_template.sql"
# Rows without which Django does not work on a freshly built public schema.
BASE_DATA_TABLES = ("django_migrations", "django_content_type", "auth_permission")


def pg_binary(name: str) -> str:
    """Find a PostgreSQL client program: the one shipped with the embedded server first, then PATH."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        shipped = Path(POSTGRES_BIN_PATH) / name
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise ExportError(f"{name} is not installed; it is needed to export the public schema.")
    return found


def _pg_dump(*args: str) -> str:
    params = connection.get_connection_params()
    env = {**os.environ, "PGPASSWORD": params.get("password") or ""}
    command = [
        pg_binary("pg_dump"), "--no-owner", "--no-privileges", "--no-comments",
        "--host", params.get("host") or "localhost", "--port", str(params.get("port") or 5432),
        "--username", params.get("user") or "postgres", "--dbname", params.get("dbname") or params["database"], *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise ExportError(f"pg_dump failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}")
    return result.stdout


def base_schema_sql() -> str:
    """The public schema: its structure, Django's own rows, and the public tenant (psql -v base_domain=…)."""
    # public exists in every new database; pg_dump still creates it when asked for it by name.
    structure = _pg_dump("--schema-only", "--schema=public").replace(
        "\nCREATE SCHEMA public;\n", "\nCREATE SCHEMA IF NOT EXISTS public;\n"
    )
    data = _pg_dump("--data-only", *[f"--table=public.{table}" for table in BASE_DATA_TABLES])
    return (
        "-- The public schema of the MCP context store, as `manage.py migrate_schemas --shared` builds it.\n"
        "-- Apply to an empty database:  psql -v base_domain=example.com -f " + BASE_FILE + "\n"
        "\\set ON_ERROR_STOP on\n\n"
        + structure + "\n" + data + "\n"
        "-- The public tenant and its domain (base_domain, default localhost).\n"
        "\\if :{?base_domain}\n\\else\n\\set base_domain localhost\n\\endif\n"
        "SET search_path = public;\n"
        "INSERT INTO tenants (slug, name, schema_name, status, plan, subscription_status, billing_email,\n"
        "    billing_customer_id, config, created_at, updated_at)\n"
        "VALUES ('public', 'Platform', 'public', 'active', 'free', 'none', '', '', '{}', now(), now())\n"
        "ON CONFLICT DO NOTHING;\n"
        "INSERT INTO domains (domain, tenant_id, is_primary)\n"
        "SELECT :'base_domain', id, true FROM tenants WHERE schema_name = 'public' ON CONFLICT DO NOTHING;\n"
    )


def tenant_schema_sql(*, slug: str | None = None) -> str:
    """One tenant schema: with slug, for that tenant; without, for `psql -v schema=tenant_<slug>`."""
    script = current_script()
    if slug is not None:
        schema = quote_schema(schema_name_for(slug))  # validates the slug first
        view = view_statements(schema_name_for(slug))
        usage = f"-- Builds the schema of tenant {slug!r}:  manage.py export_sql --tenant {slug} | psql\n"
    else:
        schema = ':"schema"'
        view = view_statements("", as_sql=(schema, ":'schema'"))
        usage = (
            "-- Builds one tenant schema. Name it tenant_<slug> (slug: lowercase letters, digits and single\n"
            "-- hyphens, hyphens written as underscores), or let `manage.py export_sql --tenant <slug>` check it:\n"
            f"--   psql -v schema=tenant_acme -f {TENANT_FILE}\n"
            "-- Register the tenant with `manage.py create_tenant`, or insert its tenants and domains rows.\n"
        )
    rows = ",\n    ".join(f"('{app}', '{name}', now())" for app, name in script.migrations)
    return (
        f"-- A fully migrated tenant schema of the MCP context store (migrations {script.fingerprint[:12]}).\n"
        + usage + "\n"
        + "\\set ON_ERROR_STOP on\n"
        + ("\\if :{?schema}\n\\else\n"
           "DO $$ BEGIN RAISE EXCEPTION 'name the schema: psql -v schema=tenant_<slug> -f ...'; END $$;\n\\endif\n"
           if slug is None else "")
        + f"BEGIN;\nCREATE SCHEMA {schema};\n"
        + "".join(f"{statement};\n" for statement in view)
        + f"SET LOCAL search_path = {schema}, public;\n\n"
        + script.sql.replace(SCHEMA_PLACEHOLDER, schema)
        + (f"\nINSERT INTO django_migrations (app, name, applied) VALUES\n    {rows};\n" if rows else "")
        + "COMMIT;\n"
    )
