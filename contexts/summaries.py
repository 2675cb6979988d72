"""The life of a summary: requested, then succeeded, or failed and retried with backoff until it gives up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from contexts.errors import SummaryConflict, SummaryNotFound
from contexts.models import Context, Summary
from tenants.current import connection_tenant

# Retries wait RETRY_BASE, then twice that, and so on.
RETRY_BASE = dt.timedelta(seconds=30)
# The attempts a retry asked for by a person adds to a failed summary.
RETRY_ATTEMPTS = 3


def _audit(action: str, summary: Summary, actor: Any = None, outcome: str = "success", **details: Any) -> None:
    audit_record(action=action, tenant=connection_tenant(), actor=actor, target=summary, outcome=outcome,
                 details={"context_id": summary.context_id, "context_version": summary.context_version, **details})


@transaction.atomic
def summary_request(*, context: Context, actor: Any = None, backend: str = "", model: str = "",
                    max_attempts: int = 3) -> Summary:
    """Ask for a summary of the context as it is now; the summarizer picks up pending ones that are due."""
    summary = Summary.objects.create(
        context=context, context_version=context.version, backend=backend, model=model,
        max_attempts=max_attempts, next_attempt_at=timezone.now(),
    )
    _audit("summary.requested", summary, actor, backend=backend, model=model)
    return summary


@transaction.atomic
def summary_succeeded(*, summary: Summary, text: str, quality_score: float | None = None,
                      quality_metrics: dict[str, Any] | None = None,
                      processing_metadata: dict[str, Any] | None = None) -> Summary:
    """Record a finished summary with its quality metrics and processing metadata."""
    locked = Summary.objects.select_for_update().get(pk=summary.pk)
    now = timezone.now()
    locked.status = Summary.Status.SUCCEEDED
    locked.text = text
    locked.quality_score = quality_score
    locked.quality_metrics = quality_metrics or {}
    locked.processing_metadata = processing_metadata or {}
    locked.attempts += 1
    locked.last_error = ""
    locked.next_attempt_at = None
    locked.finished_at = locked.updated_at = now
    locked.save()
    _audit("summary.succeeded", locked, attempts=locked.attempts, quality_score=quality_score)
    return locked


@transaction.atomic
def summary_failed(*, summary: Summary, error: str) -> Summary:
    """Record a failed attempt: retry later with backoff, or give up after max_attempts."""
    locked = Summary.objects.select_for_update().get(pk=summary.pk)
    now = timezone.now()
    locked.attempts += 1
    locked.last_error = error[:5000]
    will_retry = locked.attempts < locked.max_attempts
    if will_retry:
        locked.status = Summary.Status.PENDING
        locked.next_attempt_at = now + RETRY_BASE * 2 ** (locked.attempts - 1)
    else:
        locked.status = Summary.Status.FAILED
        locked.next_attempt_at = None
        locked.finished_at = now
    locked.updated_at = now
    locked.save()
    _audit("summary.failed", locked, outcome="failure", attempts=locked.attempts, will_retry=will_retry,
           error=error[:500])
    return locked


@transaction.atomic
def summary_retry(*, summary: Summary, actor: Any = None) -> Summary:
    """Try a failed summary again, with a fresh budget of attempts."""
    locked = Summary.objects.select_for_update().get(pk=summary.pk)
    if locked.status != Summary.Status.FAILED:
        raise SummaryConflict(f"Summary {locked.pk} is {locked.status}; only a failed summary can be retried.")
    now = timezone.now()
    locked.status = Summary.Status.PENDING
    locked.max_attempts = locked.attempts + RETRY_ATTEMPTS
    locked.next_attempt_at = now
    locked.finished_at = None
    locked.updated_at = now
    locked.save()
    _audit("summary.retried", locked, actor, attempts=locked.attempts, max_attempts=locked.max_attempts)
    return locked


def summary_get(*, context: Context, summary_id: int) -> Summary:
    """Return one summary of a context, or raise SummaryNotFound."""
    try:
        return Summary.objects.get(context=context, pk=summary_id)
    except Summary.DoesNotExist:
        raise SummaryNotFound(f"Context {context.key!r} has no summary {summary_id}.") from None
