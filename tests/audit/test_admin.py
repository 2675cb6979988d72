from audit.models import AuditLog
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
