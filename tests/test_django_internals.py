"""Each private part of Django the project relies on (tenants.django_internals), tested by name: an upgrade that
moves one fails here, saying which, rather than somewhere downstream."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants.django_internals import cursor_without_search_path


def test_base_database_wrapper_cursor_is_still_there_and_still_what_django_tenants_overrides():
    assert callable(getattr(BaseDatabaseWrapper, "_cursor", None)), "BaseDatabaseWrapper._cursor is gone"
    assert type(connections[DEFAULT_DB_ALIAS])._cursor is not BaseDatabaseWrapper._cursor, (
        "django-tenants' DatabaseWrapper no longer overrides BaseDatabaseWrapper._cursor")


def test_cursor_without_search_path_sends_the_statement_alone_and_logs_it(acme):
    with tenant_context(acme):
        with CaptureQueriesContext(connection) as captured, cursor_without_search_path(connection) as cursor:
            cursor.execute('SELECT count(*) FROM "tenant_acme"."contexts"')
            assert cursor.fetchone() == (0,)

    assert [query["sql"] for query in captured.captured_queries] == ['SELECT count(*) FROM "tenant_acme"."contexts"']


def test_the_admin_redirect_for_a_missing_object_is_still_there_and_says_so(acme):
    from django.contrib.admin import ModelAdmin

    from tests.contexts.test_admin import owner_client

    assert callable(getattr(ModelAdmin, "_get_obj_does_not_exist_redirect", None)), (
        "ModelAdmin._get_obj_does_not_exist_redirect is gone")
    client, _ = owner_client(acme)

    response = client.get("/admin/contexts/context/999999/history/", follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "context with ID “999999” doesn’t exist. Perhaps it was deleted?"]  # Django's words, verbose name as is
