import pytest
from django.db import DatabaseError, OperationalError, connection, transaction

from tenants.errors import TenantExists
from tenants.management.base import as_command_error


def test_a_domain_error_becomes_its_own_message():
    assert str(as_command_error(TenantExists("A tenant with the slug 'acme' already exists."))) == (
        "A tenant with the slug 'acme' already exists."
    )


def test_a_missing_privilege_is_named_with_what_the_role_needs(db):
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE ROLE mcp_test_limited NOLOGIN")
        cursor.execute("SET LOCAL ROLE mcp_test_limited")
        cursor.execute('CREATE SCHEMA "tenant_denied"')
    message = str(as_command_error(caught.value))
    assert message.startswith("The database refused: permission denied for database")
    assert message.endswith("creating tenants needs CREATE on the database)")


def test_a_server_that_does_not_answer_is_called_unreachable():
    import psycopg2

    try:
        psycopg2.connect(host="127.0.0.1", port=1, dbname="x", connect_timeout=2)
    except psycopg2.OperationalError as exc:
        error = OperationalError(str(exc))
        error.__cause__ = exc
    message = str(as_command_error(error))
    assert message.startswith("Cannot reach the database: connection to server at \"127.0.0.1\", port 1 failed")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("command", "instead"),
    [("rename_schema", "never changes"), ("clone_tenant", "create_tenant"),
     ("create_tenant_superuser", "createsuperuser")],
)
def test_django_tenants_commands_that_would_bypass_the_rules_refuse_and_say_what_to_use(command, instead):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=f"does not use django-tenants' {command}: .*{instead}"):
        call_command(command)
