import datetime as dt
import re
import zoneinfo
from types import SimpleNamespace

from django.contrib.admin.utils import flatten_fieldsets
from django.utils import timezone

from audit.admin import AuditLogAdmin
from audit.display import format_moment, wrappable
from audit.models import AuditLog
from audit.services import audit_record
from tests.tenants.test_admin import signed_in_client


def test_a_tenants_page_links_to_its_entries_and_the_list_filters_by_it(acme, globex):
    client = signed_in_client("localhost", tenant=None)
    page = client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    link = f"/admin/audit/auditlog/?tenant_id={acme.pk}"
    assert f'href="{link}"' in page

    listing = client.get(link)
    assert listing.status_code == 200
    shown = listing.context["cl"].result_list
    assert {entry.tenant_id for entry in shown} == {acme.pk}
    assert len(shown) == AuditLog.objects.filter(tenant_id=acme.pk).count() > 0


def test_the_audit_list_filters_by_action_outcome_actor_and_date_and_searches_request_ids(acme):
    from tests.conftest import host_client

    client = signed_in_client("localhost", tenant=None)
    host_client("localhost").post("/admin/login/", {"username": "nobody@x.test", "password": "wrong"},
                                  HTTP_X_REQUEST_ID="req-find-me")
    for query in ("?outcome__exact=denied", "?action__exact=auth.login_failed", "?actor_type__exact=anonymous",
                  "?occurred_at__gte=2000-01-01T00:00:00%2B00:00&action__exact=auth.login_failed", "?q=req-find-me"):
        shown = client.get("/admin/audit/auditlog/" + query).context["cl"].result_list
        assert [entry.request_id for entry in shown] == ["req-find-me"], query


TIME_WITH_SECONDS_AND_ZONE = re.compile(r"\d{4}-\d\d-\d\d(</span> <span[^>]*>| )\d\d:\d\d:\d\d UTC")


def acme_login(acme) -> AuditLog:
    """An entry with a tenant and a user actor: the acme owner signing in on acme's host."""
    signed_in_client("acme.localhost", tenant=acme)
    return AuditLog.objects.get(action="auth.login_succeeded", tenant_id=acme.pk)


def test_the_audit_list_links_each_entrys_tenant_and_actor_and_shows_seconds_and_zone(acme):
    entry = acme_login(acme)
    client = signed_in_client("localhost", tenant=None)

    page = client.get("/admin/audit/auditlog/").content.decode()

    assert f'href="/admin/tenants/tenant/{acme.pk}/change/"' in page
    assert f'href="/admin/tenants/user/{entry.actor_id}/change/"' in page
    assert ">owner@<wbr>acme.<wbr>localhost<" in page
    assert TIME_WITH_SECONDS_AND_ZONE.search(page)


def test_the_audit_list_keeps_to_the_columns_that_fit_and_leaves_the_rest_to_the_entry_page():
    assert AuditLogAdmin.list_display == ["list_time", "action", "outcome", "tenant", "actor"]


def test_an_entrys_page_links_its_tenant_and_actor_and_shows_every_field(acme):
    entry = acme_login(acme)
    client = signed_in_client("localhost", tenant=None)

    response = client.get(f"/admin/audit/auditlog/{entry.pk}/change/")

    page = response.content.decode()
    assert f'href="/admin/tenants/tenant/{acme.pk}/change/"' in page
    assert f'href="/admin/tenants/user/{entry.actor_id}/change/"' in page
    assert TIME_WITH_SECONDS_AND_ZONE.search(page)
    assert response.context["subtitle"].startswith("auth.login_succeeded (success) at ")
    assert response.context["subtitle"].endswith(" UTC")
    shown = set(flatten_fieldsets(response.context["adminform"].fieldsets))
    assert {"request_id", "ip_address", "user_agent", "target", "details_text", "actor_label", "target_id"} <= shown
    assert "user owner@<wbr>acme.<wbr>localhost" in page  # the target, named


def test_an_entry_of_a_tenant_and_a_user_that_are_gone_is_shown_without_a_dead_link(public_tenant):
    gone = SimpleNamespace(pk=987654, slug="vanished")
    audit_record(action="tenant.deleted", tenant=gone, details={"schema_name": "tenant_vanished"})
    client = signed_in_client("localhost", tenant=None)

    page = client.get("/admin/audit/auditlog/?tenant_id=987654").content.decode()

    assert "vanished (deleted)" in page
    assert "/admin/tenants/tenant/987654/change/" not in page


def tenant_filter(response):
    (spec,) = [spec for spec in response.context["cl"].filter_specs if getattr(spec, "parameter_name", None) == "tenant_id"]
    return spec


def test_the_tenant_filter_shows_in_the_sidebar_when_applied_with_a_way_to_clear_it(acme, globex):
    client = signed_in_client("localhost", tenant=None)

    response = client.get(f"/admin/audit/auditlog/?tenant_id={acme.pk}")

    choices = list(tenant_filter(response).choices(response.context["cl"]))
    everything, *tenants = choices
    assert everything["display"] == "All" and not everything["selected"]
    assert "tenant_id" not in everything["query_string"]
    assert [choice["display"] for choice in tenants if choice["selected"]] == ["acme"]
    assert "globex" in [choice["display"] for choice in tenants]
    page = response.content.decode()
    assert "By tenant" in page
    assert client.get("/admin/audit/auditlog/" + everything["query_string"]).context["cl"].result_count == (
        AuditLog.objects.count()
    )


def test_the_tenant_filter_lists_the_applied_tenant_even_when_its_entries_are_not_recent(acme, globex, monkeypatch):
    monkeypatch.setattr("audit.admin.recent_tenants_in_log", lambda **kwargs: [])
    client = signed_in_client("localhost", tenant=None)

    response = client.get(f"/admin/audit/auditlog/?tenant_id={globex.pk}")

    choices = list(tenant_filter(response).choices(response.context["cl"]))
    assert [(choice["display"], choice["selected"]) for choice in choices] == [("All", False), ("globex", True)]
    assert {entry.tenant_id for entry in response.context["cl"].result_list} == {globex.pk}


def test_the_tenant_filter_refuses_a_tenant_id_that_is_not_a_number(public_tenant):
    client = signed_in_client("localhost", tenant=None)

    response = client.get("/admin/audit/auditlog/?tenant_id=acme")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_tenant_filter_does_not_list_every_tenant(make_tenant):
    for number in range(12):
        tenant = make_tenant(f"t{number}")
        audit_record(action="tenant.touched", tenant=tenant)
    client = signed_in_client("localhost", tenant=None)

    response = client.get("/admin/audit/auditlog/")

    choices = list(tenant_filter(response).choices(response.context["cl"]))
    assert len(choices) == 1 + 10
    assert choices[1]["display"] == "t11"  # the latest first


def test_the_audit_log_stays_read_only(acme):
    entry = acme_login(acme)
    client = signed_in_client("localhost", tenant=None)

    page = client.get(f"/admin/audit/auditlog/{entry.pk}/change/").content.decode()

    assert 'name="_save"' not in page
    assert client.post(f"/admin/audit/auditlog/{entry.pk}/delete/").status_code == 403
    assert client.get("/admin/audit/auditlog/add/").status_code == 403


def test_times_read_to_the_second_with_the_zone_they_are_shown_in():
    moment = dt.datetime(2026, 12, 1, 23, 41, 7, 250000, tzinfo=dt.UTC)
    assert format_moment(moment) == "2026-12-01 23:41:07 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert format_moment(moment) == "2026-12-02 00:41:07 CET"
    assert format_moment(moment, seconds=False) == "2026-12-01 23:41 UTC"
    assert format_moment(None) == ""


def test_names_in_narrow_columns_can_break_so_no_long_name_widens_a_list():
    assert str(wrappable("owner@acme.localhost")) == (
        '<span style="overflow-wrap:break-word">owner@<wbr>acme.<wbr>localhost</span>'
    )
    assert "x" * 12 + "<wbr>" + "x" * 12 + "<wbr>" + "x" * 6 in str(wrappable("x" * 30))
    assert "customer-<wbr>onboarding/<wbr>notes" in str(wrappable("customer-onboarding/notes"))
    assert "Meeting notes for" in str(wrappable("Meeting notes for"))  # words break at their spaces already
    linked = str(wrappable("<b>", url="/a?b=1&c=2", title='say "hi"'))
    assert linked == '<a href="/a?b=1&amp;c=2" title="say &quot;hi&quot;" style="overflow-wrap:break-word">&lt;b&gt;</a>'
