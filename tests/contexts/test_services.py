import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Context, ContextVersion
from contexts.services import (
    ContextError,
    StaleVersion,
    context_create,
    context_delete,
    context_set_archived,
    context_update,
)


@pytest.fixture
def in_acme(acme):
    with tenant_context(acme):
        yield acme


def test_creating_a_context_starts_at_version_1_with_a_copy(in_acme):
    context = context_create(key="brief", title="Brief", content="text", tags=["a", "b"], metadata={"x": 1})
    assert context.version == 1
    version = ContextVersion.objects.get(context=context)
    assert (version.version, version.content, version.tags, version.metadata) == (1, "text", ["a", "b"], {"x": 1})


def test_every_change_bumps_the_version_and_keeps_a_copy(in_acme):
    context = context_create(key="brief", content="v1")
    context = context_update(context=context, changes={"content": "v2"})
    context = context_update(context=context, changes={"tags": ["t"]}, expected_version=2)
    assert context.version == 3
    assert list(ContextVersion.objects.filter(context=context).values_list("version", "content")) == [
        (3, "v2"), (2, "v2"), (1, "v1")
    ]


def test_a_stale_version_is_refused_and_changes_nothing(in_acme):
    context = context_create(key="brief", content="v1")
    context_update(context=context, changes={"content": "v2"})
    with pytest.raises(StaleVersion, match="is at version 2, not 1"):
        context_update(context=context, changes={"content": "lost update"}, expected_version=1)
    context.refresh_from_db()
    assert (context.version, context.content) == (2, "v2")
    assert ContextVersion.objects.filter(context=context).count() == 2


def test_fields_the_services_own_cannot_be_changed(in_acme):
    context = context_create(key="brief")
    with pytest.raises(ContextError, match="cannot be changed: access_count, version"):
        context_update(context=context, changes={"version": 9, "access_count": 5})


def test_archiving_and_unarchiving_are_versioned_changes(in_acme):
    context = context_create(key="brief")
    context = context_set_archived(context=context, archived=True)
    assert context.is_archived and context.version == 2
    context = context_set_archived(context=context, archived=False)
    assert not context.is_archived and context.version == 3
    actions = list(AuditLog.objects.filter(target_type="contexts.context").values_list("action", flat=True))
    assert sorted(actions) == ["context.archived", "context.created", "context.unarchived"]


def test_audit_entries_of_context_changes_name_the_tenant(in_acme):
    context = context_create(key="brief")
    context_delete(context=context)
    assert not Context.objects.exists()
    entries = AuditLog.objects.filter(action__startswith="context.")
    assert {(e.tenant_id, e.tenant_slug) for e in entries} == {(in_acme.pk, "acme")}


def test_services_under_schema_context_record_the_real_tenant(acme):
    from django_tenants.utils import schema_context

    from contexts.summaries import summary_failed, summary_request

    with schema_context("tenant_acme"):
        context = context_create(key="from-a-job")
        summary_failed(summary=summary_request(context=context), error="timeout")
    assert {(e.tenant_id, e.tenant_slug) for e in AuditLog.objects.all()} == {(acme.pk, "acme")}
