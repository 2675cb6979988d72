"""The worker in this process, on a real database: success, failures and retries, isolation, supersession."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Summary
from contexts.services import context_create, context_delete, context_update
from contexts.summaries import ClaimLost, retry_delay, summary_request, summary_retry, summary_start, summary_succeeded
from contexts.summarizer.extractive import MODEL_NAME
from contexts.summarizer.queue import claim_next
from tenants.models import SummaryQueueEntry, Tenant
from tenants.services import tenant_activate, tenant_suspend
from tests.contexts.api_client import api_for
from tests.summaries.conftest import until

REPORT = (
    "The quarterly review found that churn fell to 3 percent after the onboarding redesign. "
    "Support tickets about billing doubled in March because invoices were sent twice. "
    "The team agreed to fix the invoice job before the April run. Lunch was served at noon. "
    "Onboarding completion rose from 54 to 71 percent, the largest gain this year."
)


def actions(**filters) -> list[str]:
    return list(AuditLog.objects.filter(**filters).order_by("id").values_list("action", flat=True))


def test_a_requested_summary_is_made_with_its_metrics_and_leaves_the_queue(in_acme, worker):
    context = context_create(key="reviews/q1", title="Quarterly review", content=REPORT)
    summary = summary_request(context=context)
    assert (summary.status, summary.backend, summary.model) == ("pending", "extractive", MODEL_NAME)
    entry = SummaryQueueEntry.objects.get()
    assert (entry.tenant_id, entry.summary_id, entry.context_id, entry.state) == (in_acme.pk, summary.pk, context.pk,
                                                                                  "queued")

    outcome = worker.poll_once()

    assert outcome.result == "succeeded"
    summary.refresh_from_db()
    assert summary.status == "succeeded" and summary.attempts == 1 and summary.text and summary.text in REPORT
    assert set(summary.quality_metrics) >= {"compression_ratio", "coverage", "redundancy", "key_terms"}
    assert 0 < summary.quality_score <= 1
    metadata = summary.processing_metadata
    assert metadata["backend"] == "extractive" and metadata["model"] == MODEL_NAME
    assert metadata["input_chars"] == len("Quarterly review") + len(REPORT)
    assert metadata["output_chars"] == len(summary.text) and metadata["worker"] == "test-worker"
    assert summary.started_at <= summary.finished_at
    assert not SummaryQueueEntry.objects.exists()
    assert worker.poll_once() is None
    assert actions(target_type="contexts.summary", target_id=str(summary.pk)) == ["summary.requested", "summary.succeeded"]


def test_work_spread_over_tenants_lands_each_result_in_its_own_schema_and_nothing_in_another(make_tenant, worker):
    tenants = [make_tenant(slug) for slug in ("acme", "globex", "initech")]
    for tenant in tenants:
        with tenant_context(tenant):
            context_create(key="untouched", content=f"{tenant.slug} keeps this without a summary.")
            context = context_create(key="plan", title=f"{tenant.slug} plan",
                                     content=f"The {tenant.slug} plan is to open two offices. "
                                             f"{tenant.slug.title()} hires forty people in spring.")
            summary_request(context=context)
    ids = set()
    for tenant in tenants:
        with tenant_context(tenant):
            ids.add(Summary.objects.get().pk)
    assert ids == {1}  # every schema numbers its summaries from 1: only the schema tells them apart

    counts = worker.run()

    assert counts.succeeded == 3 and counts.total == 3
    for tenant in tenants:
        with tenant_context(tenant):
            (summary,) = Summary.objects.all()
            others = {t.slug for t in tenants} - {tenant.slug}
            assert summary.status == "succeeded" and tenant.slug in summary.text.lower()
            assert not any(other in summary.text.lower() for other in others)
            assert summary.context.key == "plan" and not summary.context.summaries.exclude(pk=summary.pk).exists()
        succeeded = AuditLog.objects.get(action="summary.succeeded", tenant_slug=tenant.slug)
        assert succeeded.tenant_id == tenant.pk and succeeded.target_id == "1"
    assert not SummaryQueueEntry.objects.exists()
    assert connection.schema_name == "public"  # the worker put the connection back


def test_retry_delays_grow_exponentially_within_the_jitter_bounds_and_the_cap(settings):
    settings.SUMMARIZER_RETRY_BASE_SECONDS = 30
    settings.SUMMARIZER_RETRY_MAX_SECONDS = 600
    rng = random.Random(7)
    for attempts, backoff in ((1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 600), (9, 600)):
        delays = [retry_delay(attempts, rng=rng).total_seconds() for _ in range(200)]
        assert all(backoff / 2 <= delay <= backoff for delay in delays), attempts
        assert max(delays) - min(delays) > backoff / 4  # spread out, not all at one instant


def test_a_failing_backend_records_the_error_and_retries_later(in_acme, worker, openai_settings, chat_server):
    openai_settings.SUMMARIZER_RETRY_BASE_SECONDS = 30
    chat_server.default = 500
    context = context_create(key="notes", content=REPORT)
    summary = summary_request(context=context, backend="openai")

    outcome = worker.poll_once()

    assert outcome.result == "retrying"
    assert outcome.note.endswith("(attempt 1/3)")
    summary.refresh_from_db()
    assert (summary.status, summary.attempts) == ("pending", 1)
    assert summary.last_error == f"{chat_server.url} answered 500: Simulated failure 500"
    wait = (summary.next_attempt_at - summary.updated_at).total_seconds()
    assert 15 <= wait <= 30
    entry = SummaryQueueEntry.objects.get()
    assert entry.due_at == summary.next_attempt_at and entry.claim_token is None and entry.claimed_until is None
    assert entry.last_error == summary.last_error
    assert worker.poll_once() is None  # not due yet
    failed = AuditLog.objects.get(action="summary.failed")
    assert failed.outcome == "failure" and failed.details["will_retry"] is True


def test_after_max_attempts_a_summary_fails_for_good_and_a_person_can_retry_it(in_acme, worker, openai_settings,
                                                                               chat_server):
    openai_settings.SUMMARIZER_RETRY_BASE_SECONDS = 0.001  # retries come due at once
    chat_server.default = 503
    context = context_create(key="notes", content=REPORT)
    summary = summary_request(context=context, backend="openai", max_attempts=3)

    results = [until(worker.poll_once, what="a due retry").result for _ in range(3)]

    assert results == ["retrying", "retrying", "failed"]
    assert len(chat_server.requests) == 3
    summary.refresh_from_db()
    assert (summary.status, summary.attempts, summary.next_attempt_at) == ("failed", 3, None)
    entry = SummaryQueueEntry.objects.get()
    assert (entry.state, entry.due_at) == ("failed", None)
    assert worker.poll_once() is None
    assert [e.details["will_retry"] for e in AuditLog.objects.filter(action="summary.failed").order_by("id")] == [
        True, True, False]

    chat_server.default = "answer"
    summary_retry(summary=summary)
    assert worker.poll_once().result == "succeeded"
    summary.refresh_from_db()
    assert (summary.status, summary.attempts, summary.max_attempts) == ("succeeded", 4, 6)
    assert summary.processing_metadata["input_tokens"] > 0 and summary.processing_metadata["output_tokens"] > 0
    assert summary.model == "local-test-model" and not SummaryQueueEntry.objects.exists()


def test_an_error_that_asking_again_cannot_fix_fails_at_once(in_acme, worker, openai_settings, chat_server):
    chat_server.default = 401
    summary = summary_request(context=context_create(key="notes", content=REPORT), backend="openai")
    assert worker.poll_once().result == "failed"
    summary.refresh_from_db()
    assert (summary.status, summary.attempts, summary.max_attempts) == ("failed", 1, 3)
    assert "answered 401" in summary.last_error


def test_a_backend_that_times_out_is_a_failed_attempt(in_acme, worker, openai_settings, chat_server):
    openai_settings.SUMMARIZER_TIMEOUT = 0.5
    chat_server.default = "hold"
    summary = summary_request(context=context_create(key="notes", content=REPORT), backend="openai")
    outcome = worker.poll_once()
    assert outcome.result == "retrying"
    summary.refresh_from_db()
    assert summary.last_error == f"{chat_server.url} did not answer within 0.5 s."


def test_the_tenants_config_picks_the_backend_and_model(in_acme, worker, openai_settings, chat_server):
    in_acme.config = {"summaries": {"backend": "openai", "model": "tenant-model"}}
    in_acme.save()
    summary = summary_request(context=context_create(key="notes", content=REPORT))
    assert (summary.backend, summary.model) == ("openai", "tenant-model")
    assert worker.poll_once().result == "succeeded"
    assert chat_server.requests[0]["body"]["model"] == "tenant-model"
    summary.refresh_from_db()
    assert summary.processing_metadata["model"] == "tenant-model" and summary.processing_metadata["input_tokens"]


def test_a_newer_request_supersedes_the_pending_one_so_a_burst_of_edits_costs_one_summary(in_acme, worker):
    in_acme.config = {"summaries": {"auto": True}}
    in_acme.save()
    context = context_create(key="notes", content="First draft of the plan.")
    for n in range(2, 6):
        context = context_update(context=context, changes={"content": f"Draft {n} of the plan. It grows."})

    summaries = list(Summary.objects.order_by("id"))
    assert [s.context_version for s in summaries] == [1, 2, 3, 4, 5]
    assert [s.status for s in summaries] == ["superseded"] * 4 + ["pending"]
    latest = summaries[-1]
    assert [s.processing_metadata for s in summaries[:4]] == [{"superseded_by": s.pk} for s in summaries[1:]]
    assert list(SummaryQueueEntry.objects.values_list("summary_id", flat=True)) == [latest.pk]
    assert actions(action="summary.superseded").count("summary.superseded") == 4

    counts = worker.run()

    assert (counts.succeeded, counts.total) == (1, 1)
    latest.refresh_from_db()
    assert latest.status == "succeeded" and latest.text == "Draft 5 of the plan."


def test_a_running_summary_is_not_superseded_and_changes_without_the_setting_request_nothing(in_acme):
    context = context_create(key="notes", content=REPORT)
    context_update(context=context, changes={"title": "no summary asked"})
    assert not Summary.objects.exists() and not SummaryQueueEntry.objects.exists()
    first = summary_request(context=context)
    claim = claim_next(worker="w", claim_seconds=60)
    started, _ = summary_start(claim=claim)
    assert started.pk == first.pk and started.status == "running"

    second = summary_request(context=context)

    first.refresh_from_db()
    assert first.status == "running" and second.status == "pending"
    assert SummaryQueueEntry.objects.count() == 2


def test_a_summary_of_an_older_version_is_stale_in_the_model_and_the_api(in_acme, worker):
    context = context_create(key="notes", content=REPORT)
    summary = summary_request(context=context)
    worker.poll_once()
    summary.refresh_from_db()
    assert not summary.is_stale
    context = context_update(context=context, changes={"content": "Something else entirely now."})
    summary.refresh_from_db()
    assert summary.is_stale
    api = api_for(in_acme)
    body = api.get(f"contexts/notes/summaries/{summary.pk}").json()
    assert body["stale"] is True and body["context_version"] == 1 and body["status"] == "succeeded"


def test_a_summary_requested_before_a_change_summarises_the_version_it_was_asked_for(in_acme, worker):
    context = context_create(key="notes", content="The original text about apples.")
    summary = summary_request(context=context)
    context_update(context=context, changes={"content": "A newer text about pears."})
    worker.poll_once()
    summary.refresh_from_db()
    assert summary.text == "The original text about apples." and summary.is_stale


def test_a_suspended_tenants_summaries_wait_until_it_is_active(acme, worker):
    with tenant_context(acme):
        summary_request(context=context_create(key="notes", content=REPORT))
    tenant_suspend(tenant=acme, reason="unpaid")
    assert worker.poll_once() is None
    tenant_activate(tenant=acme)
    assert worker.poll_once().result == "succeeded"


def test_deleting_a_context_takes_its_summaries_out_of_the_queue(in_acme, worker):
    context = context_create(key="notes", content=REPORT)
    summary_request(context=context)
    context_delete(context=context)
    assert not SummaryQueueEntry.objects.exists()
    assert worker.poll_once() is None


def test_an_entry_whose_summary_is_gone_is_dropped_without_a_trace_elsewhere(in_acme, worker):
    summary = summary_request(context=context_create(key="notes", content=REPORT))
    Summary.objects.filter(pk=summary.pk).delete()  # as if removed behind the services' back
    outcome = worker.poll_once()
    assert outcome.result == "skipped" and "gone" in outcome.note
    assert not SummaryQueueEntry.objects.exists()


def test_a_lapsed_claim_is_taken_over_and_the_late_worker_cannot_write(in_acme):
    summary = summary_request(context=context_create(key="notes", content=REPORT))
    slow = claim_next(worker="slow", claim_seconds=0.001)
    started, _ = summary_start(claim=slow)
    assert started.status == "running"

    fast = until(lambda: claim_next(worker="fast", claim_seconds=60), what="the lapsed claim")

    assert (fast.summary_id, fast.lost_claims) == (summary.pk, 1)
    with pytest.raises(ClaimLost):
        summary_succeeded(summary=started, text="late", claim_token=slow.token)
    summary.refresh_from_db()
    assert summary.status == "running" and summary.text == ""
    assert summary_start(claim=slow) == (None, "superseded or taken over before it started")
    done = summary_succeeded(summary=summary_start(claim=fast)[0], text="on time", claim_token=fast.token)
    assert done.status == "succeeded" and done.text == "on time" and not SummaryQueueEntry.objects.exists()


def test_a_summary_whose_workers_keep_stopping_is_given_up(in_acme):
    summary = summary_request(context=context_create(key="notes", content=REPORT))
    for _ in range(4):
        claim = until(lambda: claim_next(worker="doomed", claim_seconds=0.001), what="a lapsed claim")
    assert claim.lost_claims == 3
    assert summary_start(claim=claim) == (None, "given up (its workers kept stopping)")
    summary.refresh_from_db()
    assert summary.status == "failed" and summary.last_error.startswith("Given up: 3 workers stopped")
    assert SummaryQueueEntry.objects.get().state == "failed"


def bulk_tenants(count: int) -> None:
    """Tenant rows without schemas (the queue needs none), each with queue entries that are not due."""
    tenants = Tenant.objects.bulk_create([
        Tenant(slug=f"bulk-{n:04d}", schema_name=f"tenant_bulk_{n:04d}", name=f"Bulk {n}") for n in range(count)
    ])
    later = timezone.now() + timezone.timedelta(hours=1)
    SummaryQueueEntry.objects.bulk_create(
        [SummaryQueueEntry(tenant=t, summary_id=1, context_id=1, due_at=later) for t in tenants]
        + [SummaryQueueEntry(tenant=t, summary_id=2, context_id=1, state="failed", due_at=None) for t in tenants]
    )


def is_path_alone(sql: str) -> bool:
    return sql.startswith("SET LOCAL search_path") and "; " not in sql


def without_path(sql: str) -> str:
    """The statement a cursor sent, without the search path the first one of a transaction carries in front."""
    return sql.split("; ", 1)[1] if sql.startswith("SET LOCAL search_path") else sql


@pytest.mark.parametrize("tenant_count", [10, 1000])
def test_finding_work_costs_the_same_queries_for_10_and_1000_tenants(acme, worker, tenant_count):
    bulk_tenants(tenant_count - 1)
    with tenant_context(acme):
        summary_request(context=context_create(key="notes", content=REPORT))
    assert Tenant.objects.exclude(schema_name="public").count() == tenant_count

    with CaptureQueriesContext(connection) as poll:
        outcome = worker.poll_once()
    with CaptureQueriesContext(connection) as idle:
        assert worker.poll_once() is None

    assert outcome.result == "succeeded"
    found = [without_path(q["sql"]) for q in idle.captured_queries if not is_path_alone(q["sql"])]
    assert len(found) == 1 and found[0].lstrip().startswith("UPDATE summary_queue AS q")
    statements = [without_path(q["sql"]) for q in poll.captured_queries if not is_path_alone(q["sql"])]
    # The claim; then in the tenant's schema, start (lock the entry and the summary with its context, mark it
    # running) and finish (lock both again, write the result, drop the entry, audit), each transaction a
    # savepoint inside the test's own. The search path is set for the transaction before each cursor's statements
    # (SET LOCAL, mcp.postgresql_backend: no session state leaks through PgBouncer): at most as many again.
    assert len(statements) == POLL_STATEMENTS, statements
    assert len(poll) <= 2 * POLL_STATEMENTS
    assert not any("pg_namespace" in sql or "information_schema" in sql for sql in statements)


POLL_STATEMENTS = 15
