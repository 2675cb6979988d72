"""tenant_placement and move_tenant on a database that is not a Citus coordinator: one line, non-zero exit.

Their work on a cluster is tested in tests/citus.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditLog
from tests.conftest import run_manage

NOT_CITUS = "This database is not a Citus coordinator (no citus extension)"


@pytest.mark.parametrize("args", [["tenant_placement"], ["tenant_placement", "--json"],
                                  ["move_tenant", "acme", "--to", "127.0.0.1:9701"]])
def test_the_placement_commands_say_the_database_is_not_a_citus_coordinator(acme, args):
    out = StringIO()
    with pytest.raises(CommandError, match=re.escape(NOT_CITUS)):
        call_command(*args, stdout=out)
    assert out.getvalue() == ""
    assert not AuditLog.objects.filter(action="tenant.moved").exists()


@pytest.mark.subprocess
@pytest.mark.parametrize("args", [["tenant_placement"], ["move_tenant", "acme", "--to", "127.0.0.1:9701"]])
def test_on_a_single_server_they_exit_non_zero_with_one_line(db, args):
    result = run_manage(*args)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"CommandError: {NOT_CITUS}")
    assert result.stdout == ""
