"""The database itself refuses bad rows, whatever path they come by."""

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from contexts.models import Context, Summary
from tenants.models import Domain, Tenant, User


def refused(sql: str, params: list | None = None, constraint: str = "") -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.mark.parametrize(
    ("slug", "schema_name", "constraint"),
    [
        ("acme", "tenant_other", "tenants_schema_matches_slug"),
        ("Acme", "tenant_Acme", "tenants_schema_matches_slug"),
        ("acme-", "tenant_acme_", "tenants_schema_matches_slug"),
        ("acme_x", "tenant_acme_x", "tenants_schema_matches_slug"),
        ("public", "public_x", "tenants_schema_matches_slug"),
    ],
)
def test_the_schema_name_must_follow_from_a_valid_slug(public_tenant, slug, schema_name, constraint):
    refused(
        "INSERT INTO tenants (slug, name, schema_name, status, plan, subscription_status, billing_email, "
        "billing_customer_id, config, created_at, updated_at) "
        "VALUES (%s, 'x', %s, 'active', 'free', 'none', '', '', '{}', now(), now())",
        [slug, schema_name], constraint,
    )


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("status", "deleted", "tenants_status_valid"),
        ("plan", "platinum", "tenants_plan_valid"),
        ("subscription_status", "unknown", "tenants_subscription_status_valid"),
    ],
)
def test_tenant_enumerations_are_checked(acme, column, value, constraint):
    refused(f"UPDATE tenants SET {column} = %s WHERE id = %s", [value, acme.pk], constraint)


def test_a_suspended_tenant_has_a_suspension_time(acme):
    refused("UPDATE tenants SET status = 'suspended' WHERE id = %s", [acme.pk], "tenants_suspended_has_time")


def test_billing_customer_ids_are_unique_when_set(acme, globex):
    Tenant.objects.filter(pk=acme.pk).update(billing_customer_id="cus_1")
    Tenant.objects.filter(pk=globex.pk).update(billing_customer_id="")  # empty is not an id
    refused("UPDATE tenants SET billing_customer_id = 'cus_1' WHERE id = %s", [globex.pk], "billing_customer_id")


def test_a_tenant_has_one_primary_domain(acme):
    refused(
        "INSERT INTO domains (domain, tenant_id, is_primary) VALUES ('second.localhost', %s, true)",
        [acme.pk], "domains_one_primary_per_tenant",
    )
    Domain.objects.create(domain="second.localhost", tenant=acme, is_primary=True)  # the model demotes the old one
    assert list(Domain.objects.filter(tenant=acme, is_primary=True).values_list("domain", flat=True)) == [
        "second.localhost"
    ]


def test_users_emails_are_unique_per_tenant_and_among_platform_users(acme):
    User.objects.create_user("pat@example.test", "x", tenant=acme, role="member")
    User.objects.create_superuser("root@example.test", "x")
    with pytest.raises(IntegrityError, match="users_email_unique_per_tenant"), transaction.atomic():
        User.objects.bulk_create([User(email="pat@example.test", tenant=acme, role="admin")])
    with pytest.raises(IntegrityError, match="users_email_unique_per_tenant"), transaction.atomic():
        User.objects.bulk_create([User(email="root@example.test", tenant=None, role="")])


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"email": "Pat@Example.test", "role": "member"}, "users_email_lowercase"),
        ({"email": "pat@example.test", "role": ""}, "users_role_matches_tenant"),
        ({"email": "pat@example.test", "role": "member", "is_superuser": True}, "users_staff_are_platform_users"),
        ({"email": "pat@example.test", "role": "member", "is_staff": True}, "users_staff_are_platform_users"),
    ],
)
def test_user_rows_are_checked(acme, fields, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        User.objects.bulk_create([User(tenant=acme, **fields)])


def test_a_platform_user_has_no_role(public_tenant):
    with pytest.raises(IntegrityError, match="users_role_matches_tenant"), transaction.atomic():
        User.objects.bulk_create([User(email="root@example.test", tenant=None, role="owner")])


def test_sso_identities_are_unique_per_provider_and_subject(acme):
    pat = User.objects.create_user("pat@example.test", "x", tenant=acme, role="member")
    sam = User.objects.create_user("sam@example.test", "x", tenant=acme, role="member")
    pat.identities.create(provider="google", subject="123")
    sam.identities.create(provider="okta", subject="123")
    with pytest.raises(IntegrityError, match="user_identities_provider_subject_unique"), transaction.atomic():
        sam.identities.create(provider="google", subject="123")


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("UPDATE contexts SET version = 0", "contexts_version_positive"),
        ("UPDATE contexts SET access_count = -1", "contexts_access_count_non_negative"),
        ("INSERT INTO contexts (key, title, content, tags, metadata, version, access_count, created_at, updated_at) "
         "VALUES ('', '', '', '{}', '{}', 1, 0, now(), now())", "contexts_key_not_blank"),
        ("INSERT INTO contexts (key, title, content, tags, metadata, version, access_count, created_at, updated_at) "
         "VALUES ('k', '', '', '{}', '{}', 1, 0, now(), now())", "contexts_key_key"),
        ("INSERT INTO context_versions (context_id, version, title, content, tags, metadata, created_at) "
         "SELECT id, 1, '', '', '{}', '{}', now() FROM contexts", "context_versions_context_version_unique"),
    ],
)
def test_context_rows_are_checked(acme, sql, constraint):
    from contexts.services import context_create

    with tenant_context(acme):
        context_create(key="k")
        refused(sql, constraint=constraint)


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("status = 'done'", "summaries_status_valid"),
        ("attempts = 4, max_attempts = 3", "summaries_attempts_within_max"),
        ("max_attempts = 0, attempts = 0", "summaries_max_attempts_positive"),
        ("quality_score = 1.5", "summaries_quality_score_range"),
        ("context_version = 0", "summaries_context_version_positive"),
    ],
)
def test_summary_rows_are_checked(acme, assignment, constraint):
    from contexts.services import context_create

    with tenant_context(acme):
        context = context_create(key="k")
        Summary.objects.create(context=context, context_version=1)
        refused(f"UPDATE summaries SET {assignment}", constraint=constraint)


def test_the_indexes_the_queries_need_exist(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname IN ('public', 'tenant_acme') "
            "AND indexname IN ('contexts_tags_gin', 'contexts_expires_at_idx', 'summaries_status_next_idx', "
            "'audit_logs_tenant_time_idx', 'audit_logs_request_id_idx')"
        )
        indexes = dict(cursor.fetchall())
    assert "USING gin (tags)" in indexes["contexts_tags_gin"]
    assert "(expires_at)" in indexes["contexts_expires_at_idx"]
    assert "(status, next_attempt_at)" in indexes["summaries_status_next_idx"]
    assert "(tenant_id, occurred_at DESC)" in indexes["audit_logs_tenant_time_idx"]
    assert "(request_id)" in indexes["audit_logs_request_id_idx"]
    assert Context._meta.db_table == "contexts"
