"""The life of a summary: requested, started by a worker, then succeeded, or failed and retried with backoff.

Every change of a summary's state keeps its entry in the fleet's queue (public.summary_queue) in step, in
the same transaction: the worker finds work there without visiting schemas (contexts.summarizer.queue).
Locks are always taken in one order, the queue entry before the summary, so that a request superseding a
summary and a worker starting it never wait for each other in a circle.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from contexts.errors import InvalidContext, SummaryConflict, SummaryNotFound
from contexts.models import Context, ContextVersion, Summary
from contexts.summarizer.config import default_model, summary_config, validate_backend
from contexts.summarizer.queue import Claim
from tenants.current import connection_tenant
from tenants.models import SummaryQueueEntry

# The attempts a retry asked for by a person adds to a failed summary.
RETRY_ATTEMPTS = 3
# A retry waits between (1 - RETRY_JITTER) and 1 times its backoff: workers that failed together
# (an endpoint down for everyone) do not all come back in the same second.
RETRY_JITTER = 0.5
# A summary whose worker stopped mid-way (its claim lapsed) this many times is given up: it may be what
# stops them (a context that exhausts the worker's memory, say).
MAX_LOST_CLAIMS = 3
ERROR_MAX_LENGTH = 5000
QUEUE_ERROR_MAX_LENGTH = SummaryQueueEntry._meta.get_field("last_error").max_length


class ClaimLost(Exception):
    """The worker's claim on a summary lapsed and another took it over: this worker's result is not recorded."""


def _audit(action: str, summary: Summary, actor: Any = None, outcome: str = "success", **details: Any) -> None:
    audit_record(action=action, tenant=connection_tenant(), actor=actor, target=summary, outcome=outcome,
                 details={"context_id": summary.context_id, "context_version": summary.context_version, **details})


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> dt.timedelta:
    """How long to wait after the given number of failed attempts: exponential, capped, with jitter."""
    backoff = min(settings.SUMMARIZER_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.SUMMARIZER_RETRY_MAX_SECONDS)
    return dt.timedelta(seconds=backoff * (rng or random).uniform(1 - RETRY_JITTER, 1))


def _entries(summary_ids: list[int], *, token: Any = None) -> list[SummaryQueueEntry]:
    """Lock the queue entries of these summaries of the current tenant (only the claim's, given a token)."""
    entries = SummaryQueueEntry.objects.select_for_update().filter(tenant=connection_tenant(), summary_id__in=summary_ids)
    if token is not None:
        entries = entries.filter(claim_token=token)
    return list(entries.order_by("id"))


def _entry(summary: Summary, *, token: Any = None) -> SummaryQueueEntry | None:
    entries = _entries([summary.pk], token=token)
    if token is not None and not entries:
        raise ClaimLost(f"Summary {summary.pk}: this worker's claim lapsed and another worker took it over.")
    return entries[0] if entries else None


@transaction.atomic
def summary_request(*, context: Context, actor: Any = None, backend: str = "", model: str = "",
                    max_attempts: int | None = None, automatic: bool = False) -> Summary:
    """Ask for a summary of the context as it is now; it supersedes the context's summaries still pending.

    The backend and model are the tenant's (its config, else the platform's settings) unless named here.
    """
    tenant = connection_tenant()
    if tenant is None:
        raise InvalidContext("Summaries are asked for in a tenant's schema.")
    config = summary_config(tenant)
    if backend:
        try:
            validate_backend(backend, "backend")
        except ValidationError as exc:
            raise InvalidContext(exc.messages[0], field="backend") from None
    chosen_backend = backend or config.backend
    chosen_model = model or (config.model if chosen_backend == config.backend else default_model(chosen_backend))
    # The queue entries first (the lock order), then the summaries they stand for.
    queued = SummaryQueueEntry.objects.select_for_update().filter(tenant=tenant, context_id=context.pk)
    list(queued.order_by("id"))
    older = list(Summary.objects.select_for_update().filter(context=context, status=Summary.Status.PENDING))
    now = timezone.now()
    summary = Summary.objects.create(
        context=context, context_version=context.version, backend=chosen_backend, model=chosen_model,
        max_attempts=max_attempts or config.max_attempts, next_attempt_at=now,
    )
    SummaryQueueEntry.objects.create(tenant=tenant, summary_id=summary.pk, context_id=context.pk, due_at=now)
    _audit("summary.requested", summary, actor, backend=chosen_backend, model=chosen_model, automatic=automatic)
    if older:
        SummaryQueueEntry.objects.filter(tenant=tenant, summary_id__in=[s.pk for s in older]).delete()
    for superseded in older:
        superseded.status = Summary.Status.SUPERSEDED
        superseded.next_attempt_at = None
        superseded.finished_at = superseded.updated_at = now
        superseded.processing_metadata = {**superseded.processing_metadata, "superseded_by": summary.pk}
        superseded.save(update_fields=["status", "next_attempt_at", "finished_at", "updated_at", "processing_metadata"])
        _audit("summary.superseded", superseded, actor, superseded_by=summary.pk)
    return summary


def summary_request_automatic(*, context: Context, actor: Any = None) -> Summary | None:
    """Request a summary of a context that just changed, if its tenant asks for summaries on change."""
    if context.is_archived or not summary_config(connection_tenant()).auto:
        return None  # an archived context is not read; unarchiving it is a change, which asks again
    return summary_request(context=context, actor=actor, automatic=True)


@transaction.atomic
def summary_start(*, claim: Claim) -> tuple[Summary | None, str]:
    """Mark a claimed summary running; or say why there is nothing to run (and settle its queue entry)."""
    entries = SummaryQueueEntry.objects.select_for_update().filter(pk=claim.queue_id, claim_token=claim.token)
    entry = entries.first()
    if entry is None:
        return None, "superseded or taken over before it started"
    summary = (Summary.objects.select_for_update(of=("self",)).select_related("context")
               .filter(pk=claim.summary_id).first())
    if summary is None or summary.status not in (Summary.Status.PENDING, Summary.Status.RUNNING):
        entry.delete()
        return None, "gone (its context was deleted)" if summary is None else f"already {summary.status}"
    if claim.lost_claims >= MAX_LOST_CLAIMS:
        error = f"Given up: {claim.lost_claims} workers stopped while summarizing it (their claims lapsed)."
        _record_failure(summary, entry, error=error, retryable=False, processing_metadata=None)
        return None, "given up (its workers kept stopping)"
    now = timezone.now()
    summary.status = Summary.Status.RUNNING
    summary.started_at = summary.updated_at = now
    summary.save(update_fields=["status", "started_at", "updated_at"])
    return summary, ""


def summary_source(summary: Summary) -> tuple[str, str]:
    """The title and content of the version a summary is of (the context may have moved on since)."""
    if summary.context.version == summary.context_version:
        return summary.context.title, summary.context.content
    version = ContextVersion.objects.filter(context_id=summary.context_id, version=summary.context_version).first()
    if version is None:
        raise SummaryNotFound(f"Version {summary.context_version} of context {summary.context.key!r} is gone.")
    return version.title, version.content


@transaction.atomic
def summary_succeeded(*, summary: Summary, text: str, quality_score: float | None = None,
                      quality_metrics: dict[str, Any] | None = None,
                      processing_metadata: dict[str, Any] | None = None, claim_token: Any = None) -> Summary:
    """Record a finished summary with its quality metrics and processing metadata; it leaves the queue.

    With claim_token (the worker's), only while that claim is current: otherwise ClaimLost, nothing written.
    """
    entry = _entry(summary, token=claim_token)
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
    if entry is not None:
        entry.delete()
    _audit("summary.succeeded", locked, attempts=locked.attempts, quality_score=quality_score,
           backend=locked.backend, model=(processing_metadata or {}).get("model", locked.model))
    return locked


@transaction.atomic
def summary_failed(*, summary: Summary, error: str, retryable: bool = True, claim_token: Any = None,
                   processing_metadata: dict[str, Any] | None = None) -> Summary:
    """Record a failed attempt: retry later with backoff and jitter, or give up (max_attempts, or not retryable)."""
    entry = _entry(summary, token=claim_token)
    locked = Summary.objects.select_for_update().get(pk=summary.pk)
    return _record_failure(locked, entry, error=error, retryable=retryable, processing_metadata=processing_metadata)


def _record_failure(locked: Summary, entry: SummaryQueueEntry | None, *, error: str, retryable: bool,
                    processing_metadata: dict[str, Any] | None) -> Summary:
    now = timezone.now()
    locked.attempts += 1
    locked.last_error = error[:ERROR_MAX_LENGTH]
    if processing_metadata is not None:
        locked.processing_metadata = processing_metadata
    will_retry = retryable and locked.attempts < locked.max_attempts
    if will_retry:
        locked.status = Summary.Status.PENDING
        locked.next_attempt_at = now + retry_delay(locked.attempts)
    else:
        locked.status = Summary.Status.FAILED
        locked.next_attempt_at = None
        locked.finished_at = now
    locked.updated_at = now
    locked.save()
    if entry is not None:
        entry.state = SummaryQueueEntry.State.QUEUED if will_retry else SummaryQueueEntry.State.FAILED
        entry.due_at = locked.next_attempt_at
        entry.claim_token = entry.claimed_until = None
        entry.last_error = error[:QUEUE_ERROR_MAX_LENGTH]
        entry.updated_at = now
        entry.save()
    _audit("summary.failed", locked, outcome="failure", attempts=locked.attempts, will_retry=will_retry,
           retryable=retryable, next_attempt_at=locked.next_attempt_at.isoformat() if will_retry and locked.next_attempt_at else None,
           error=error[:500])
    return locked


@transaction.atomic
def summary_retry(*, summary: Summary, actor: Any = None) -> Summary:
    """Try a failed summary again, with a fresh budget of attempts."""
    entry = _entry(summary)
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
    if entry is None:
        entry = SummaryQueueEntry(tenant=connection_tenant(), summary_id=locked.pk, context_id=locked.context_id)
    entry.state, entry.due_at, entry.updated_at = SummaryQueueEntry.State.QUEUED, now, now
    entry.claim_token = entry.claimed_until = None
    entry.lost_claims = 0
    entry.save()
    _audit("summary.retried", locked, actor, attempts=locked.attempts, max_attempts=locked.max_attempts)
    return locked


def summaries_forget(*, context: Context) -> None:
    """Take a context's summaries out of the fleet's queue (before the context and its summaries are deleted)."""
    SummaryQueueEntry.objects.filter(tenant=connection_tenant(), context_id=context.pk).delete()


def summary_get(*, context: Context, summary_id: int) -> Summary:
    """Return one summary of a context, or raise SummaryNotFound."""
    try:
        return Summary.objects.get(context=context, pk=summary_id)
    except Summary.DoesNotExist:
        raise SummaryNotFound(f"Context {context.key!r} has no summary {summary_id}.") from None
