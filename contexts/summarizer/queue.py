"""Finding and claiming due summaries across every tenant: a queue table in public, not a scan of schemas.

Why a table rather than LISTEN/NOTIFY: a notification is lost when no worker is
listening (all stopped, or restarting after a deploy), carries no due time for
retries, and cannot tell a second worker that the first one died halfway; and
behind PgBouncer in transaction mode LISTEN does not work at all. A row written
in the same transaction as the tenant's summary is never lost and never early
(it commits or rolls back with the summary), one indexed query finds the next
due entry among any number of tenants, FOR UPDATE SKIP LOCKED lets workers
claim side by side without waiting for each other, and the claim is a lease
(claimed_until) rather than a lock held for the length of a model call: a worker
that is killed loses nothing, because its lease lapses and the next poll takes
the entry over, and no transaction stays open while an endpoint thinks.

Each claim carries a fresh token. Only the holder of the current token can
record the outcome (contexts.summaries), so a worker that was presumed dead and
comes back late cannot overwrite what its successor wrote.

Times are the database's statement_timestamp(), never now() (the start of the
transaction) nor the worker's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection

from tenants.models import SummaryQueueEntry, Tenant

# One statement: pick the earliest due entry whose tenant is active and that no live claim holds, skipping
# entries another worker is claiming at this instant, and take it for claim_seconds. Its tenant's row comes
# back with it (RETURNING t.*), so that the worker needs no query to know where to write.
CLAIM_SQL = """
UPDATE summary_queue AS q
SET claimed_by = %(worker)s,
    claim_token = %(token)s,
    claimed_until = statement_timestamp() + make_interval(secs => %(claim_seconds)s),
    claims = q.claims + 1,
    lost_claims = q.lost_claims + (q.claimed_until IS NOT NULL)::int,
    updated_at = statement_timestamp()
FROM tenants AS t
WHERE q.id = (
    SELECT c.id FROM summary_queue AS c JOIN tenants AS ct ON ct.id = c.tenant_id
    WHERE c.state = 'queued' AND c.due_at <= statement_timestamp()
      AND (c.claimed_until IS NULL OR c.claimed_until <= statement_timestamp())
      AND ct.status = 'active'
    ORDER BY c.due_at, c.id
    LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
)
AND t.id = q.tenant_id
RETURNING t.*, q.id AS queue_id, q.summary_id AS queue_summary_id, q.lost_claims AS queue_lost_claims
"""

RENEW_SQL = """
UPDATE summary_queue SET claimed_until = statement_timestamp() + make_interval(secs => %(claim_seconds)s)
WHERE id = %(queue_id)s AND claim_token = %(token)s
"""


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one queue entry, good until its lease lapses or the entry is done."""

    queue_id: int
    summary_id: int
    token: uuid.UUID
    lost_claims: int
    tenant: Tenant
    worker: str


def claim_next(*, worker: str, claim_seconds: float) -> Claim | None:
    """Claim the earliest due summary of any active tenant, in one statement; None when nothing is due."""
    token = uuid.uuid4()
    rows = list(Tenant.objects.raw(CLAIM_SQL, {"worker": worker, "token": str(token), "claim_seconds": claim_seconds}))
    if not rows:
        return None
    tenant: Any = rows[0]
    return Claim(queue_id=tenant.queue_id, summary_id=tenant.queue_summary_id, token=token,
                 lost_claims=tenant.queue_lost_claims, tenant=tenant, worker=worker)


def renew(claim: Claim, *, claim_seconds: float) -> bool:
    """Extend a claim's lease; False when the claim is no longer this worker's."""
    with connection.cursor() as cursor:
        cursor.execute(RENEW_SQL, {"claim_seconds": claim_seconds, "queue_id": claim.queue_id, "token": str(claim.token)})
        return cursor.rowcount == 1


@dataclass
class TenantQueueStatus:
    tenant: str
    pending: int
    due: int
    running: int
    failed: int
    oldest_due_seconds: float | None


QUEUE_STATUS_SQL = """
SELECT t.slug,
       count(*) FILTER (WHERE q.state = 'queued' AND (q.claimed_until IS NULL OR q.claimed_until <= s.at)),
       count(*) FILTER (WHERE q.state = 'queued' AND q.due_at <= s.at
                        AND (q.claimed_until IS NULL OR q.claimed_until <= s.at)),
       count(*) FILTER (WHERE q.state = 'queued' AND q.claimed_until > s.at),
       count(*) FILTER (WHERE q.state = 'failed'),
       extract(epoch FROM s.at - min(q.due_at) FILTER (WHERE q.state = 'queued' AND q.due_at <= s.at
                                                   AND (q.claimed_until IS NULL OR q.claimed_until <= s.at)))
FROM summary_queue AS q JOIN tenants AS t ON t.id = q.tenant_id CROSS JOIN (SELECT statement_timestamp() AS at) AS s
GROUP BY t.slug, s.at
ORDER BY t.slug
"""


def queue_status() -> list[TenantQueueStatus]:
    """Every tenant with summaries queued, running or failed: counts and the age of its oldest due one (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(QUEUE_STATUS_SQL)
        return [
            TenantQueueStatus(tenant=slug, pending=pending, due=due, running=running, failed=failed,
                              oldest_due_seconds=float(oldest) if oldest is not None else None)
            for slug, pending, due, running, failed, oldest in cursor.fetchall()
        ]


def queue_totals(rows: list[TenantQueueStatus]) -> dict[str, Any]:
    """The fleet's totals over queue_status rows."""
    ages = [row.oldest_due_seconds for row in rows if row.oldest_due_seconds is not None]
    return {
        "tenants": len(rows),
        "pending": sum(row.pending for row in rows),
        "due": sum(row.due for row in rows),
        "running": sum(row.running for row in rows),
        "failed": sum(row.failed for row in rows),
        "oldest_due_seconds": max(ages) if ages else None,
    }


def queue_entry_state(entry: SummaryQueueEntry, at: Any) -> str:
    """How an entry reads to an operator: failed, running (a live claim), due, or waiting (a retry later)."""
    if entry.state == SummaryQueueEntry.State.FAILED:
        return "failed"
    if entry.claimed_until is not None and entry.claimed_until > at:
        return "running"
    return "due" if entry.due_at is not None and entry.due_at <= at else "waiting"
