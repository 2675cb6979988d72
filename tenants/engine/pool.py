"""A pool of migrated schemas that belong to no tenant yet, so that signup does not wait on DDL.

Creation claims one (FOR UPDATE SKIP LOCKED, so concurrent signups never wait
for each other) and renames it, which PostgreSQL does in the catalog alone.
Pooled schemas are migrated with the tenants; a pool row records the
migrations its schema is at, and only a schema at the code's migrations is
ever claimed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction

from tenants.engine.applied_migrations import rename_statements
from tenants.engine.lock import hold_shared_migration_lock
from tenants.engine.template import code_fingerprint, current_script, replay_script
from tenants.models import PooledSchema

POOL_PREFIX = "pool_"


def pool_schema_names() -> list[str]:
    """Every pooled schema, whatever migrations it is at."""
    return list(PooledSchema.objects.order_by("schema_name").values_list("schema_name", flat=True))


def pool_provision(
    *, count: int, report: Callable[[str, float], None] | None = None, start: Callable[[int], None] | None = None
) -> int:
    """Top the pool up to `count` ready schemas; return how many were added (`start` learns how many it will add)."""
    script = current_script()
    ready = PooledSchema.objects.filter(fingerprint=script.fingerprint).count()
    added = 0
    if start is not None:
        start(max(count - ready, 0))
    for _ in range(max(count - ready, 0)):
        schema_name = f"{POOL_PREFIX}{secrets.token_hex(6)}"
        started = time.perf_counter()
        with transaction.atomic():
            hold_shared_migration_lock(wait_seconds=settings.MIGRATION_LOCK_WAIT)
            replay_script(script, schema_name)
            PooledSchema.objects.create(schema_name=schema_name, fingerprint=script.fingerprint)
        added += 1
        if report is not None:
            report(schema_name, (time.perf_counter() - started) * 1000)
    return added


def pool_claim(*, schema_name: str) -> bool:
    """Rename a ready pooled schema to schema_name in the caller's transaction; False if none is ready."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM schema_pool WHERE id = (SELECT id FROM schema_pool WHERE fingerprint = %s "
            "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schema_name",
            [code_fingerprint()],
        )
        row = cursor.fetchone()
        if row is None:
            return False
        cursor.execute(";\n".join(rename_statements(row[0], schema_name)))
    return True


def pool_mark(schema_names: list[str], *, fingerprint: str) -> None:
    """Record the migrations these pooled schemas are now at ('' after a rollback: not claimable)."""
    if schema_names:
        PooledSchema.objects.filter(schema_name__in=schema_names).update(fingerprint=fingerprint)
