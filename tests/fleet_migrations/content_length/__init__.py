from tests.fleet_migrations import with_real_migrations

__path__ = with_real_migrations(__path__)  # noqa: F821 - a package's own search path
