"""Read a schema's structure from the catalog, to compare two schemas built different ways."""

from django.db import connection

from tenants.naming import quote_schema

CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, character_maximum_length, is_nullable,
               replace(column_default, %(schema)s, 'S'), is_identity, identity_generation, ordinal_position
        FROM information_schema.columns WHERE table_schema = %(schema)s ORDER BY 1, 2""",
    "indexes": """
        SELECT indexname, replace(indexdef, %(quoted)s, 'S') FROM pg_indexes
        WHERE schemaname = %(schema)s ORDER BY 1""",
    "constraints": """
        SELECT c.conrelid::regclass::text LIKE '%%.%%', c.conname, c.contype,
               replace(pg_get_constraintdef(c.oid), %(quoted)s, 'S'),
               c.condeferrable, c.condeferred
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = %(schema)s ORDER BY 2""",
    "sequences": """
        SELECT s.sequencename, s.data_type, s.start_value, s.increment_by, s.last_value,
               d.refobjid::regclass::text LIKE '%%.%%', a.attname
        FROM pg_sequences s
        JOIN pg_class c ON c.relname = s.sequencename
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE s.schemaname = %(schema)s ORDER BY 1""",
    "triggers": """
        SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement
        FROM information_schema.triggers WHERE trigger_schema = %(schema)s ORDER BY 1, 2, 4""",
    "views": """
        SELECT viewname, replace(definition, %(schema)s, 'S') FROM pg_views WHERE schemaname = %(schema)s ORDER BY 1""",
    "migrations": "SELECT app, name FROM {schema}.django_migrations ORDER BY id",
}


def catalog(schema: str, cursor=None) -> dict[str, list[tuple]]:
    """Everything that makes up a schema's structure, with the schema's own name taken out.

    A tenant schema's django_migrations view names its schema (tenants.engine.applied_migrations).
    """
    if cursor is None:
        with connection.cursor() as own_cursor:
            return catalog(schema, own_cursor)
    result = {}
    for part, sql in CATALOG_QUERIES.items():
        if part == "migrations":
            cursor.execute(sql.format(schema=quote_schema(schema)))
        else:
            cursor.execute(sql, {"schema": schema, "quoted": f"{schema}."})
        result[part] = cursor.fetchall()
    return result




def tables_in(schema: str) -> set[str]:
    """The names of the tables in a schema, and of its views (a tenant schema's django_migrations is one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind IN ('r', 'p', 'v')",
            [schema],
        )
        return {row[0] for row in cursor.fetchall()}


def applied(schema: str, app: str = "contexts") -> list[str]:
    """The migrations of an app recorded as applied in a schema, in the order they were applied."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name FROM {quote_schema(schema)}.django_migrations WHERE app = %s ORDER BY id", [app])
        return [row[0] for row in cursor.fetchall()]
