"""The tenant admin of contexts and summaries, as an operator meets it on the tenant's host."""

from __future__ import annotations

from django.contrib.admin.utils import flatten_fieldsets
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.admin import ContextAdmin, SummaryAdmin
from contexts.models import Context, ContextVersion
from contexts.services import context_create, context_set_archived, context_update
from contexts.summaries import summary_request
from tenants.models import User
from tests.tenants.test_admin import make_user, signed_in_client

CHANGELIST = "/admin/contexts/context/"


def owner_client(tenant, **fields):
    """A client signed in on the tenant's host as its owner (owner@<slug>.localhost), and that owner."""
    client = signed_in_client(f"{tenant.slug}.localhost", tenant=tenant)
    owner = User.objects.get(tenant=tenant, email=f"owner@{tenant.slug}.localhost")
    if fields:
        User.objects.filter(pk=owner.pk).update(**fields)
        owner.refresh_from_db()
    return client, owner


def form_field_names(response) -> list[str]:
    return list(flatten_fieldsets(response.context["adminform"].fieldsets))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_history_shows_this_contexts_audit_entries_and_never_another_tenants_with_the_same_id(acme, globex):
    with tenant_context(globex):
        theirs = context_create(key="onboarding/notes", title="Globex plans")
        context_update(context=theirs, changes={"title": "Globex secret plans"})
        context_update(context=theirs, changes={"tags": ["secret"]})
    client, owner = owner_client(acme, full_name="Ann Owner")
    with tenant_context(acme):
        ours = context_create(key="onboarding/notes", title="Acme plans", actor=owner)
        context_update(context=ours, changes={"content": "Welcome aboard"}, actor=owner)
        other = context_create(key="another", actor=owner)
        context_update(context=other, changes={"title": "elsewhere"}, actor=owner)
    assert ours.pk == theirs.pk  # each schema numbers its rows from 1: the same id in both tenants

    response = client.get(f"{CHANGELIST}{ours.pk}/history/")

    assert response.status_code == 200
    entries = list(response.context["action_list"])
    assert [entry.action for entry in entries] == ["context.created", "context.updated"]
    assert {entry.tenant_id for entry in entries} == {acme.pk}
    page = response.content.decode()
    assert "Created (v1)" in page and "Updated content (v2)" in page
    assert "Ann Owner &lt;owner@acme.localhost&gt;" in page
    assert "Updated title" not in page and "Updated tags" not in page  # globex's changes, and the other context's
    assert "2 entries" in page


def test_a_summarys_history_reads_the_audit_log_too(acme):
    client, owner = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="notes", actor=owner)
        summary = summary_request(context=context, actor=owner)

    page = client.get(f"/admin/contexts/summary/{summary.pk}/history/").content.decode()

    assert "Requested (v1)" in page


def test_archiving_says_what_it_archived_and_what_already_was(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        a, b, c = (context_create(key=key) for key in ("a", "b", "c"))
        context_set_archived(context=c, archived=True)

    response = client.post(
        CHANGELIST, {"action": "archive_selected", "_selected_action": [a.pk, b.pk, c.pk]}, follow=True
    )

    assert messages_of(response) == ["Archived 2 contexts: a, b. 1 context was already archived: c."]
    with tenant_context(acme):
        assert all(Context.objects.get(pk=pk).is_archived for pk in (a.pk, b.pk, c.pk))
        assert Context.objects.get(pk=c.pk).version == 2  # archived once, not twice

    response = client.post(CHANGELIST, {"action": "unarchive_selected", "_selected_action": [b.pk]}, follow=True)
    assert messages_of(response) == ["Unarchived 1 context: b."]

    response = client.post(CHANGELIST, {"action": "unarchive_selected", "_selected_action": [b.pk]}, follow=True)
    assert messages_of(response) == ["Unarchived nothing. 1 context was already live: b."]


def test_created_by_and_changed_by_name_the_person_and_never_a_user_of_another_tenant(acme, globex):
    client, owner = owner_client(acme, full_name="Ann Owner")
    stranger = make_user("stranger@globex.test", tenant=globex, full_name="Secret Stranger")
    with tenant_context(acme):
        context = context_create(key="notes", actor=owner)
        # An id that names a user of another tenant (a restored dump, a bug): it must name nobody here.
        context = context_update(context=context, changes={"title": "x"}, actor=stranger)

    page = client.get(f"{CHANGELIST}{context.pk}/change/").content.decode()

    assert "Ann Owner &lt;owner@acme.localhost&gt;" in page  # created by, and version 1's changed by
    assert f"unknown user #{stranger.pk}" in page  # updated by, and version 2's changed by
    assert "stranger@globex.test" not in page and "Secret Stranger" not in page


def test_the_change_page_names_people_in_a_fixed_number_of_queries(acme):
    client, owner = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="notes", actor=owner)
    url = f"{CHANGELIST}{context.pk}/change/"
    client.get(url)  # warm the session and caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    with tenant_context(acme):
        for number in range(5):
            context = context_update(context=context, changes={"title": f"t{number}"}, actor=owner)
    assert queries() == few


def test_version_rows_are_labelled_with_their_number_and_context(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="onboarding/notes")
        context_update(context=context, changes={"title": "Notes"})
        assert str(ContextVersion.objects.get(context=context, version=2)) == "v2 of onboarding/notes"

    page = client.get(f"{CHANGELIST}{context.pk}/change/").content.decode()

    assert "v2 of onboarding/notes" in page and "v1 of onboarding/notes" in page


def test_the_add_form_asks_the_key_first_and_nothing_a_new_context_cannot_have_yet(acme):
    client, _ = owner_client(acme)

    response = client.get(f"{CHANGELIST}add/")

    fields = form_field_names(response)
    assert fields[0] == "key"
    for absent in ("version", "access_count", "archived_at", "archived_since", "last_read", "last_accessed_at",
                   "created", "created_at", "updated_display", "updated_at", "created_by", "updated_by"):
        assert absent not in fields
    assert response.context["inline_admin_formsets"] == []


def test_the_change_form_keeps_the_key_first_and_shows_the_state_below(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="notes")

    fields = form_field_names(client.get(f"{CHANGELIST}{context.pk}/change/"))

    assert fields[0] == "key"
    assert fields.index("version") > fields.index("expires_at")


def test_tags_come_with_a_hint_and_take_a_comma_separated_line(acme):
    client, owner = owner_client(acme)
    page = client.get(f"{CHANGELIST}add/").content.decode()
    assert "Comma-separated, e.g. onboarding, billing" in page
    assert 'placeholder="onboarding, billing"' in page
    assert "At most 64 characters a tag" in page

    response = client.post(
        f"{CHANGELIST}add/", {"key": "notes", "title": "", "content": "", "metadata": "{}",
                              "tags": " onboarding , billing,, onboarding "},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(acme):
        context = Context.objects.get(key="notes")
        assert context.tags == ["onboarding", "billing"]
        assert context.created_by_id == owner.pk
    page = client.get(f"{CHANGELIST}{context.pk}/change/").content.decode()
    assert 'value="onboarding, billing"' in page


def test_a_tag_too_long_is_refused_with_its_reason_and_nothing_is_created(acme):
    client, _ = owner_client(acme)

    response = client.post(
        f"{CHANGELIST}add/", {"key": "notes", "metadata": "{}", "tags": "ok, " + "x" * 65},
    )

    assert response.status_code == 200
    assert "Tag 2: Ensure this value has at most 64 characters (it has 65)." in response.content.decode()
    with tenant_context(acme):
        assert not Context.objects.exists()
    assert not AuditLog.objects.filter(action="context.created", tenant_id=acme.pk).exists()


def test_the_lists_show_the_columns_that_fit_and_the_rest_is_on_the_detail_page(acme):
    client, _ = owner_client(acme)
    with tenant_context(acme):
        context = context_create(key="onboarding/notes", title="Notes", tags=["onboarding", "billing"])
        context = context_set_archived(context=context, archived=True)
        summary_request(context=context)

    assert ContextAdmin.list_display == ["short_key", "short_title", "tag_list", "version", "updated", "archived"]
    assert SummaryAdmin.list_display == ["context_key", "of_version", "status", "backend", "quality", "created"]
    page = client.get(CHANGELIST).content.decode()
    assert "onboarding, billing" in page
    assert 'alt="True"' in page  # archived, as the admin's boolean icon
    summaries = client.get("/admin/contexts/summary/").content.decode()
    assert "onboarding/<wbr>notes" in summaries and ">v2<" in summaries
