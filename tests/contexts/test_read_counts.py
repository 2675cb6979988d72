"""A read counts itself in the statement that reads the row, and only that statement's commit may skip the wait
for the disk (contexts.services: the counts are statistics; content keeps full durability)."""

from __future__ import annotations

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from contexts import services
from contexts.models import Context
from tenants.services import tenant_create


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_a_read_on_its_own_commits_its_count_without_waiting_and_nothing_after_it_does(committed):
    acme, _ = tenant_create(slug="acme", name="Acme")
    with tenant_context(acme):
        services.context_create(key="brief", title="Brief", content="The brief.", tags=["a"], metadata={"n": 1})
        assert synchronous_commit() == "on"

        with CaptureQueriesContext(connection) as captured:
            context = services.context_read(key="brief")
        (read,) = [query["sql"] for query in captured.captured_queries if query["sql"].startswith('UPDATE "tenant_acme"."contexts"')]

        assert "set_config('synchronous_commit', 'off', true)" in read
        assert synchronous_commit() == "on"  # the setting lasted for the read's own transaction only
        assert (context.key, context.title, context.content, context.tags, context.metadata, context.access_count) == (
            "brief", "Brief", "The brief.", ["a"], {"n": 1}, 1)
        assert context.last_accessed_at is not None and not context._state.adding
        assert Context.objects.get(key="brief").access_count == 1
        services.context_read(key="brief")
        services.contexts_read_many(keys=["brief", "missing"])
        assert Context.objects.get(key="brief").access_count == 3


def test_a_read_inside_a_transaction_leaves_the_transaction_its_durability(committed):
    acme, _ = tenant_create(slug="acme", name="Acme")
    with tenant_context(acme):
        services.context_create(key="brief", content="The brief.")
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            services.context_read(key="brief")
            services.contexts_read_many(keys=["brief"])
            assert synchronous_commit() == "on"

        assert not any("set_config" in query["sql"] for query in captured.captured_queries)
        assert Context.objects.get(key="brief").access_count == 2


def test_a_read_returns_the_row_as_a_queryset_would_but_for_the_search_vector(acme):
    with tenant_context(acme):
        services.context_create(key="notes/q1", title="Q1", content="Numbers.", tags=["x", "y"],
                                metadata={"deep": {"list": [1, None]}})

        read = services.context_read(key="notes/q1")
        (many,) = services.contexts_read_many(keys=["notes/q1"])
        stored = Context.objects.get(key="notes/q1")

        for found in (read, many):
            for field in Context._meta.concrete_fields:
                if field.name == "search_vector":
                    assert field.attname in found.get_deferred_fields()
                elif field.name not in ("access_count", "last_accessed_at"):
                    assert getattr(found, field.attname) == getattr(stored, field.attname), field.name
        assert (read.access_count, many.access_count, stored.access_count) == (1, 2, 2)


def test_a_read_names_its_tenants_schema_whatever_search_path_the_session_was_left_with(acme, globex):
    with tenant_context(acme):
        services.context_create(key="brief", content="Acme's brief.")
    with tenant_context(globex):
        services.context_create(key="brief", content="Globex's brief.")
        with connection.cursor() as cursor:  # the session's path is now globex's, as an earlier request may leave it
            cursor.execute("SHOW search_path")
            assert "tenant_globex" in cursor.fetchone()[0]

    with CaptureQueriesContext(connection) as captured, tenant_context(acme):
        read = services.context_read(key="brief")
        (many,) = services.contexts_read_many(keys=["brief"])

    assert not any("search_path" in query["sql"] for query in captured.captured_queries)  # globex's path all along
    assert read.content == many.content == "Acme's brief."
    with tenant_context(acme):
        assert Context.objects.get(key="brief").access_count == 2
    with tenant_context(globex):
        assert Context.objects.get(key="brief").access_count == 0



def page_of(key: str) -> int:
    """The heap page the context's current row is on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (ctid::text::point)[0]::int FROM contexts WHERE key = %s", [key])
        return cursor.fetchone()[0]


def test_counting_a_read_keeps_the_row_on_its_page_even_right_after_its_insert(committed):
    """contexts 0005: room on each page (fillfactor 70) for the next version of a row, so that a read's count is
    a heap-only (HOT) update, which adds no index entries, from the first read on. At fillfactor 100 the inserts
    fill each page (five rows of 1.5 kB here) and the first read of each row moves it to another page."""
    acme, _ = tenant_create(slug="acme", name="Acme")
    words = [f"{stem}{number}" for number in range(20) for stem in ("plan", "risk", "budget", "order", "quarter")]
    with tenant_context(acme):
        with connection.cursor() as cursor:
            cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'contexts'::regclass")
            assert cursor.fetchone()[0] == ["fillfactor=70"]
        keys = [f"notes/{number}" for number in range(12)]
        for number, key in enumerate(keys):
            services.context_create(key=key, title="Notes", content=" ".join(words[number:] + words[:number]))
        pages = {key: page_of(key) for key in keys}
        assert len(set(pages.values())) > 1

        for key in keys:
            services.context_read(key=key)

        assert {key: page_of(key) for key in keys} == pages
