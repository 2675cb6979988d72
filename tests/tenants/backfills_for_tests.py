"""Backfills the tests register: one counts each row it visits (so a row done twice shows), one fills titles."""

from __future__ import annotations

from django.db.models.functions import Upper

from tenants.engine.backfill import Backfill, register
from tests.fleet_migrations import LATEST_REAL

# Not idempotent on purpose: a batch run twice leaves access_count at 2 on its rows.
COUNT_VISITS = Backfill(
    name="test_count_visits",
    model="contexts.Context",
    requires=LATEST_REAL,
    sql="UPDATE contexts SET access_count = access_count + 1 WHERE id > %(after)s AND id <= %(upto)s",
    batch_size=100,
)

# The usual shape: fill what is still missing, with the ORM.
TITLE_FROM_KEY = Backfill(
    name="test_title_from_key",
    model="contexts.Context",
    requires=LATEST_REAL,
    update=lambda rows: rows.filter(title="").update(title=Upper("key")),
    batch_size=2,
)


def register_all() -> None:
    """Register the test backfills (the registry is the process's; tests unregister what they add)."""
    register(COUNT_VISITS)
    register(TITLE_FROM_KEY)

