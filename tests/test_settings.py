"""Configuration from the environment, checked in child processes (settings are read once per process)."""

import secrets

from tests.conftest import run_manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": ".example.com",
    "BASE_DOMAIN": "example.com",
}


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


def test_debug_off_without_database_url_stops_with_one_clear_line():
    result = run_manage("check", env={**PRODUCTION, "DATABASE_URL": ""})
    assert result.returncode == 2
    assert result.stderr == (
        "Configuration error: DATABASE_URL must be set when DEBUG is off; "
        "the embedded PostgreSQL is for development only.\n"
    )


def test_debug_off_without_secret_key_stops_with_one_clear_line():
    result = run_manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode == 2
    assert result.stderr == "Configuration error: SECRET_KEY must be set when DEBUG is off.\n"


def test_a_malformed_boolean_is_refused_by_name():
    result = run_manage("check", env={"DEBUG": "maybe"})
    assert result.returncode == 2
    assert result.stderr == "Configuration error: DEBUG='maybe' is not a boolean; use true or false.\n"


def test_a_redis_url_that_is_not_redis_is_refused_in_one_line_without_its_password():
    result = run_manage("check", env={"REDIS_URL": "memcached://app:s3cret@cache:11211"})
    assert result.returncode == 2
    assert result.stderr == (
        "Configuration error: REDIS_URL='memcached://app:***@cache:11211' is not a redis://, rediss:// or unix:// URL.\n"
    )
