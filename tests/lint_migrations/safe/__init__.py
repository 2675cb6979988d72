"""The README's safe forms ("Writing a migration"): the linter must let every one through."""
