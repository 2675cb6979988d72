"""The summary worker: claim the next due summary of any tenant, run its backend, record the outcome in its schema.

One summary at a time per worker; run more workers for more throughput (they
never take the same summary: contexts.summarizer.queue). The backend runs in a
thread so that the worker can renew its claim while an endpoint thinks, and
give up on one that never answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from contexts.errors import ContextError
from contexts.summaries import ClaimLost, retry_delay, summary_failed, summary_source, summary_start, summary_succeeded
from contexts.summarizer.backends import build_backend
from contexts.summarizer.base import Draft, Summarizer, SummarizerError
from contexts.summarizer.config import default_model
from contexts.summarizer.quality import measure
from contexts.summarizer.queue import Claim, claim_next, renew
from tenants.current import tenant_db
from tenants.db_errors import connection_lost
from tenants.schema_switch import restoring_schema

# A backend gets SUMMARIZER_TIMEOUT and this much more before the worker stops waiting for it.
DEADLINE_GRACE_SECONDS = 10.0
RELEASE_SQL = """
UPDATE summary_queue
SET claim_token = NULL, claimed_until = NULL, last_error = %(error)s, updated_at = statement_timestamp(),
    due_at = statement_timestamp() + make_interval(secs => %(delay)s)
WHERE id = %(queue_id)s AND claim_token = %(token)s
"""


@dataclass
class Outcome:
    """What became of one claimed summary, for the progress line."""

    claim: Claim
    result: str  # succeeded, retrying, failed, skipped, lost, error
    context_key: str = ""
    context_version: int | None = None
    backend: str = ""
    model: str = ""
    duration_ms: int = 0
    quality_score: float | None = None
    note: str = ""


@dataclass
class Counts:
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0
    error: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.result, getattr(self, outcome.result) + 1)

    @property
    def total(self) -> int:
        return self.succeeded + self.retrying + self.failed + self.skipped + self.lost + self.error

    def as_dict(self) -> dict[str, Any]:
        return {"processed": self.total, "succeeded": self.succeeded, "retrying": self.retrying,
                "failed": self.failed, "skipped": self.skipped, "claims_lost": self.lost, "errors": self.error,
                "seconds": round(time.monotonic() - self.started, 3)}


class Worker:
    """Claims and makes summaries until there are none due (or forever), one at a time."""

    def __init__(self, *, worker_id: str, claim_seconds: float | None = None,
                 report: Callable[[Outcome], None] | None = None) -> None:
        self.worker_id = worker_id
        self.claim_seconds = claim_seconds or settings.SUMMARIZER_CLAIM_SECONDS
        self.report = report or (lambda outcome: None)
        self.stop_requested = threading.Event()
        self._backends: dict[str, Summarizer] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summarizer")

    def request_stop(self) -> None:
        """Finish the summary in hand, then stop (what SIGTERM does)."""
        self.stop_requested.set()

    def run(self, *, forever: bool = False, poll_interval: float = 2.0, limit: int | None = None) -> Counts:
        """Make due summaries until none is due (or, forever, until asked to stop); return the counts."""
        counts = Counts()
        while not self.stop_requested.is_set():
            outcome = self.poll_once()
            if outcome is None:
                if not forever:
                    break
                self.stop_requested.wait(poll_interval)
                continue
            counts.add(outcome)
            self.report(outcome)
            if limit is not None and counts.total >= limit:
                break
        return counts

    def poll_once(self) -> Outcome | None:
        """Claim the next due summary of any tenant and make it; None when nothing is due."""
        claim = claim_next(worker=self.worker_id, claim_seconds=self.claim_seconds)
        if claim is None:
            return None
        try:
            with restoring_schema():
                tenant_db.set_tenant(claim.tenant)
                return self._process(claim)
        except DatabaseError as exc:
            if connection_lost(exc):
                raise
            # The tenant's schema refused (a missing table, a migration holding a lock): leave the summary as it
            # is and come back to it later, rather than stop serving every other tenant.
            self._release(claim, f"{type(exc).__name__}: {exc}")
            return Outcome(claim, "error", note=" ".join(str(exc).split())[:200])

    def close(self) -> None:
        """Close the backends' connections and the backend thread."""
        for backend in self._backends.values():
            backend.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _process(self, claim: Claim) -> Outcome:
        summary, reason = summary_start(claim=claim)
        if summary is None:
            return Outcome(claim, "skipped", note=reason)
        backend_name = summary.backend or settings.SUMMARIZER_BACKEND
        model = summary.model or default_model(backend_name)
        outcome = Outcome(claim, "", context_key=summary.context.key, context_version=summary.context_version,
                          backend=backend_name, model=model)
        started = time.monotonic()
        title = content = ""
        try:
            title, content = summary_source(summary)
            draft = self._summarize(claim, backend_name, title=title, content=content, model=model)
        except (SummarizerError, ContextError) as exc:
            retryable = getattr(exc, "retryable", False)
            outcome.duration_ms = int((time.monotonic() - started) * 1000)
            metadata = self._metadata(claim, outcome, title, content, None)
            try:
                failed = summary_failed(summary=summary, error=str(exc), retryable=retryable,
                                        claim_token=claim.token, processing_metadata=metadata)
            except ClaimLost as lost:
                outcome.result, outcome.note = "lost", str(lost)
                return outcome
            outcome.result = "retrying" if failed.status == failed.Status.PENDING else "failed"
            outcome.note = str(exc) + (f" (attempt {failed.attempts}/{failed.max_attempts})")
            return outcome
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        outcome.model = draft.model
        score, metrics = measure(title=title, content=content, summary=draft.text)
        try:
            summary_succeeded(summary=summary, text=draft.text, quality_score=score, quality_metrics=metrics,
                              processing_metadata=self._metadata(claim, outcome, title, content, draft),
                              claim_token=claim.token)
        except ClaimLost as lost:
            outcome.result, outcome.note = "lost", str(lost)
            return outcome
        outcome.result, outcome.quality_score = "succeeded", score
        return outcome

    def _summarize(self, claim: Claim, backend_name: str, *, title: str, content: str, model: str) -> Draft:
        """Run the backend in its thread, renewing the claim meanwhile; give up past the deadline."""
        backend = self._backend(backend_name)
        future = self._executor.submit(backend.summarize, title=title, content=content, model=model)
        limit = settings.SUMMARIZER_TIMEOUT + DEADLINE_GRACE_SECONDS
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            try:
                return future.result(timeout=max(0.0, min(self.claim_seconds / 3, remaining)))
            except FutureTimeout:
                if time.monotonic() >= deadline:
                    # A thread cannot be stopped: leave it to finish on its own and take a fresh one.
                    self._executor.shutdown(wait=False)
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summarizer")
                    self._backends.pop(backend_name, None)
                    raise SummarizerError(f"The {backend_name} backend gave no answer within {limit:g} s.") from None
                renew(claim, claim_seconds=self.claim_seconds)
            except SummarizerError:
                raise
            except Exception as exc:  # a backend's bug must cost one attempt, not the worker
                raise SummarizerError(f"The {backend_name} backend failed: {type(exc).__name__}: {exc}") from exc

    def _backend(self, name: str) -> Summarizer:
        if name not in self._backends:
            self._backends[name] = build_backend(name)
        return self._backends[name]

    def _metadata(self, claim: Claim, outcome: Outcome, title: str, content: str, draft: Draft | None) -> dict[str, Any]:
        return {
            "backend": outcome.backend,
            "model": draft.model if draft else outcome.model,
            "duration_ms": outcome.duration_ms,
            "input_chars": len(title) + len(content),
            "output_chars": len(draft.text) if draft else 0,
            "input_tokens": draft.input_tokens if draft else None,
            "output_tokens": draft.output_tokens if draft else None,
            "truncated_input": draft.truncated if draft else False,
            "worker": claim.worker,
            "lost_claims": claim.lost_claims,
        }

    def _release(self, claim: Claim, error: str) -> None:
        """Give a claimed entry back, due again after a backoff, when its schema could not be worked in."""
        delay = retry_delay(max(1, claim.lost_claims + 1)).total_seconds()
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SQL, {"error": error[:500], "delay": delay, "queue_id": claim.queue_id,
                                         "token": str(claim.token)})
