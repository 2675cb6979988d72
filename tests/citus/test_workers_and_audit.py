"""The summary worker, the audit trigger and tenant isolation, with tenants on different workers."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import InternalError, connection, transaction
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.errors import ContextNotFound
from contexts.models import Context, Summary
from contexts.services import context_create, context_read
from contexts.summaries import summary_request
from tenants.models import SummaryQueueEntry
from tests.citus.conftest import node_of


def test_the_summary_worker_takes_the_coordinators_queue_and_writes_each_result_on_its_worker(
        two_tenants_on_two_workers):
    tenants = two_tenants_on_two_workers
    for tenant in tenants:
        with tenant_context(tenant):
            for n in range(3):
                summary_request(context=context_create(key=f"notes/{n}", content=f"Note {n} of {tenant.name}. "
                                                                                 f"It says something about item {n}."))
    assert SummaryQueueEntry.objects.count() == 6  # public, on the coordinator

    out = StringIO()
    call_command("process_summaries", "--worker-id", "citus", stdout=out)

    assert out.getvalue().splitlines()[-1].startswith("Processed 6 summaries"), out.getvalue()
    assert not SummaryQueueEntry.objects.exists()
    for tenant in tenants:
        with tenant_context(tenant):
            summaries = list(Summary.objects.order_by("id"))
        assert [(s.status, s.attempts) for s in summaries] == [("succeeded", 1)] * 3
        assert all(tenant.name in s.text for s in summaries)
    assert AuditLog.objects.filter(action="summary.succeeded").count() == 6


def test_a_request_rolled_back_leaves_neither_its_summary_on_the_worker_nor_its_entry_on_the_coordinator(
        two_tenants_on_two_workers):
    acme, _ = two_tenants_on_two_workers
    with tenant_context(acme):
        context = context_create(key="notes/kept", content="Kept.")
        with pytest.raises(RuntimeError), transaction.atomic():
            summary_request(context=context)
            assert SummaryQueueEntry.objects.count() == 1 and Summary.objects.count() == 1
            raise RuntimeError("the caller's transaction fails")
        assert Summary.objects.count() == 0
    assert SummaryQueueEntry.objects.count() == 0


@pytest.mark.parametrize("sql", ["UPDATE audit_logs SET action = 'tampered'", "DELETE FROM audit_logs",
                                 "TRUNCATE audit_logs"])
def test_the_audit_log_on_the_coordinator_still_refuses_changes(two_tenants_on_two_workers, sql):
    before = list(AuditLog.objects.order_by("id").values_list("id", "action"))
    assert ("tenant.created" in {action for _, action in before})
    with pytest.raises(InternalError, match="audit_logs is append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(AuditLog.objects.order_by("id").values_list("id", "action")) == before


def test_tenants_on_different_workers_never_see_each_others_rows(two_tenants_on_two_workers):
    acme, globex = two_tenants_on_two_workers
    assert node_of(acme.schema_name) != node_of(globex.schema_name)
    with tenant_context(acme):
        context_create(key="secret", content="Acme's secret")
    with tenant_context(globex):
        context_create(key="public", content="Globex's note")
        with pytest.raises(ContextNotFound):
            context_read(key="secret")
        assert list(Context.objects.values_list("key", flat=True)) == ["public"]
    with tenant_context(acme):
        assert context_read(key="secret").content == "Acme's secret"
        assert list(Context.objects.values_list("key", flat=True)) == ["secret"]
