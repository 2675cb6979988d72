"""DATABASE_URL names a PostgreSQL database, or the project refuses to start with one line that says what to set."""

import subprocess
import sys

import pytest

from mcp.env import ConfigurationError, database_from_url, mask_password
from tests.conftest import PROJECT_DIR, run_manage

pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "DATABASE_URL='not a url' is not a URL; use postgres://user:password@host:5432/dbname."),
        (
            "mysql://app:s3cret-pw@db.example.com/mcp",
            "DATABASE_URL='mysql://app:***@db.example.com/mcp' is not PostgreSQL; "
            "only postgres:// or postgresql:// URLs are accepted.",
        ),
        (
            "sqlite:///db.sqlite3",
            "DATABASE_URL='sqlite:///db.sqlite3' is not PostgreSQL; only postgres:// or postgresql:// URLs are accepted.",
        ),
        (
            "postgres://app:s3cret-pw@db.example.com:54x2/mcp",
            "DATABASE_URL='postgres://app:***@db.example.com:54x2/mcp' is not a valid URL: check the port, and "
            "percent-encode special characters in the user and password; use postgres://user:password@host:5432/dbname.",
        ),
        (
            "postgres://app:s3cret-pw@db.example.com:5432",
            "DATABASE_URL='postgres://app:***@db.example.com:5432' names no database; "
            "use postgres://user:password@host:5432/dbname.",
        ),
    ],
)
def test_a_database_url_that_is_not_postgresql_stops_the_cli_with_one_line_and_exit_code_2(url, message):
    result = run_manage("check", env={"DATABASE_URL": url})

    assert result.returncode == 2
    assert result.stderr == f"Configuration error: {message}\n"
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_a_bad_database_url_also_stops_a_command_that_would_touch_the_database():
    result = run_manage("migrate_schemas", "--shared", env={"DATABASE_URL": "mysql://app:s3cret-pw@localhost/mcp"})

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_the_wsgi_application_refuses_to_load_with_a_non_postgresql_url():
    # gunicorn imports mcp.wsgi: the worker fails to boot on the same ConfigurationError, password masked.
    env = {"DATABASE_URL": "mysql://app:s3cret-pw@localhost/mcp", "DEBUG": "false", "SECRET_KEY": "x" * 50}
    result = subprocess.run(
        [sys.executable, "-c", "import mcp.wsgi"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "mcp.env.ConfigurationError: DATABASE_URL='mysql://app:***@localhost/mcp' is not PostgreSQL; "
        "only postgres:// or postgresql:// URLs are accepted."
    )
    assert "s3cret-pw" not in result.stderr


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "POSTGRES"])
def test_postgres_and_postgresql_urls_are_parsed_with_every_part(scheme):
    database = database_from_url("DATABASE_URL", f"{scheme}://app:p%40ss@db.example.com:5433/mcp?sslmode=require")

    assert {key: database[key] for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")} == {
        "USER": "app", "PASSWORD": "p@ss", "HOST": "db.example.com", "PORT": 5433, "NAME": "mcp",
    }
    assert database["OPTIONS"] == {"sslmode": "require"}


def test_a_socket_url_without_host_is_accepted():
    assert database_from_url("DATABASE_URL", "postgresql:///mcp?host=/var/run/postgresql")["NAME"] == "mcp"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://app:pw@db/mcp", "postgres://app:***@db/mcp"),
        ("mysql://app:p@ss/w@db:1/mcp", "mysql://app:***@db:1/mcp"),  # an unencoded @ or / in the password
        ("postgres://db/mcp?password=pw&sslmode=require", "postgres://db/mcp?password=***&sslmode=require"),
        ("postgres://app@db/mcp", "postgres://app@db/mcp"),
        ("postgres://db:5432/mcp", "postgres://db:5432/mcp"),
    ],
)
def test_messages_never_show_a_password(url, shown):
    assert mask_password(url) == shown


def test_an_unknown_scheme_is_refused_before_dj_database_url_guesses_a_backend():
    with pytest.raises(ConfigurationError, match="'postgis://db/mcp' is not PostgreSQL"):
        database_from_url("DATABASE_URL", "postgis://db/mcp")
