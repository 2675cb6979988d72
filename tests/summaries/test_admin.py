"""Summaries in the tenant admin (request, retry, status, metrics, errors) and the fleet's queue in the platform admin."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Summary
from contexts.services import context_create, context_update
from contexts.summaries import summary_failed, summary_request
from tenants.models import SummaryQueueEntry
from tests.contexts.test_admin import messages_of, owner_client
from tests.tenants.test_admin import signed_in_client

SUMMARIES = "/admin/contexts/summary/"
CONTEXTS = "/admin/contexts/context/"


def test_an_owner_requests_summaries_of_selected_contexts(acme):
    client, owner = owner_client(acme)
    with tenant_context(acme):
        first, second = (context_create(key=key, content="Some words.") for key in ("a/one", "b/two"))

    response = client.post(CONTEXTS, {"action": "request_summary_selected", "_selected_action": [first.pk, second.pk]},
                           follow=True)

    assert messages_of(response) == ["Requested a summary of 2 contexts: a/one, b/two. The summary worker makes it; "
                                     "its state is under Summaries."]
    with tenant_context(acme):
        assert sorted(Summary.objects.values_list("context__key", "status")) == [("a/one", "pending"),
                                                                                 ("b/two", "pending")]
    assert SummaryQueueEntry.objects.filter(tenant=acme).count() == 2
    requested = AuditLog.objects.filter(action="summary.requested")
    assert requested.count() == 2 and {entry.actor_id for entry in requested} == {owner.pk}


def test_an_owner_retries_failed_summaries_and_others_are_left_as_they_were(acme):
    client, owner = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="notes", content="Some words.")
        failed = summary_failed(summary=summary_request(context=context, max_attempts=1), error="endpoint down")
        pending = summary_request(context=context_create(key="other", content="x"))

    response = client.post(SUMMARIES, {"action": "retry_selected", "_selected_action": [failed.pk, pending.pk]},
                           follow=True)

    assert messages_of(response) == ["Retrying 1: notes v1. Only failed summaries can be retried; left as they "
                                     "were: other v1 (pending)."]
    with tenant_context(acme):
        failed.refresh_from_db()
        assert (failed.status, failed.max_attempts) == ("pending", 4)
        untouched = Summary.objects.get(pk=pending.pk)
        assert (untouched.status, untouched.max_attempts, untouched.updated_at) == ("pending", 3, pending.updated_at)
    assert SummaryQueueEntry.objects.get(summary_id=failed.pk).state == "queued"
    assert AuditLog.objects.filter(action="summary.retried").count() == 1


def test_a_summary_page_shows_status_staleness_metrics_and_the_error(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="notes", content="Some words about billing.")
        summary = summary_failed(summary=summary_request(context=context, max_attempts=1),
                                 error="http://llm.local/v1 answered 500: overloaded")
        Summary.objects.filter(pk=summary.pk).update(quality_metrics={"coverage": 0.5, "key_terms": ["a", "b"]})
        context_update(context=context, changes={"content": "Changed."})

    page = client.get(f"{SUMMARIES}{summary.pk}/change/").content.decode()
    listing = client.get(SUMMARIES).content.decode()
    context_page = client.get(f"{CONTEXTS}{context.pk}/change/").content.decode()

    assert "v1: stale, the context has changed since (it is at v2)" in page
    assert "http://llm.local/v1 answered 500: overloaded" in page and "1 of 1" in page
    assert "coverage: 0.5<br>key terms: a, b" in page
    assert "v1 (stale)" in listing and "failed" in listing
    assert "v1, failed, stale: the context is at v2" in context_page
    stale_only = client.get(f"{SUMMARIES}?stale=yes").content.decode()
    current_only = client.get(f"{SUMMARIES}?stale=no").content.decode()
    assert "v1 (stale)" in stale_only and "v1 (stale)" not in current_only


def test_summaries_are_neither_added_nor_changed_nor_deleted_by_hand(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        summary = summary_request(context=context_create(key="notes", content="x"))
    assert client.get(f"{SUMMARIES}add/").status_code == 403
    assert client.post(f"{SUMMARIES}{summary.pk}/delete/", {"post": "yes"}).status_code == 403
    with tenant_context(acme):
        assert Summary.objects.filter(pk=summary.pk).exists()


def test_the_platform_admin_lists_the_fleets_queue_with_its_totals(make_tenant, settings):
    settings.SUMMARIZER_RETRY_BASE_SECONDS = 600
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(acme):
        summary_request(context=context_create(key="a", content="x"))
    with tenant_context(globex):
        summary_failed(summary=summary_request(context=context_create(key="g", content="x"), max_attempts=1),
                       error="endpoint down")
    client = signed_in_client("localhost", tenant=None)

    page = client.get("/admin/tenants/summaryqueueentry/").content.decode()

    assert "Summary queue: 1 pending (1 due), 0 running, 1 failed across 2 tenant(s)" in page
    assert "endpoint down" in page and ">due<" in page and ">failed<" in page
    failed_only = client.get("/admin/tenants/summaryqueueentry/?state=failed").content.decode()
    assert "endpoint down" in failed_only and ">due<" not in failed_only
    assert client.get("/admin/tenants/summaryqueueentry/add/").status_code == 403
