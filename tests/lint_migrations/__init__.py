"""Migrations of the contexts app written the unsafe and the safe way, for the migration linter's tests."""
