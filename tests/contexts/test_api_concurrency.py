"""Concurrent requests against a real server process's database: reads all count, racing writes lose nothing."""

import threading

from django.db import connections
from django_tenants.utils import tenant_context

from contexts.models import Context
from tenants.services import tenant_create
from tests.contexts.api_client import Api, api_for


def in_threads(count: int, work) -> list:
    """Run work(i) in count threads that start together; return their results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        finally:
            connections.close_all()  # each thread's own database connection

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_fifty_concurrent_reads_add_exactly_fifty(committed):
    acme, _ = tenant_create(slug="acme", name="Acme")
    api = api_for(acme)
    api.create("brief", content="x")

    statuses = in_threads(50, lambda _: Api("acme.localhost", api.key).get("contexts/brief").status_code)

    assert statuses == [200] * 50
    with tenant_context(acme):
        assert Context.objects.get(key="brief").access_count == 50


def test_two_racing_writes_with_the_same_if_match_give_one_200_and_one_412(committed):
    acme, _ = tenant_create(slug="acme", name="Acme")
    api = api_for(acme)
    api.create("brief", content="v1")

    def write(index: int) -> int:
        response = Api("acme.localhost", api.key).call(
            "PUT", "contexts/brief", {"content": f"writer {index}"}, headers={"If-Match": '"v1"'}
        )
        return response.status_code

    statuses = in_threads(2, write)

    assert sorted(statuses) == [200, 412]
    with tenant_context(acme):
        context = Context.objects.get(key="brief")
        assert context.version == 2 and context.content == f"writer {statuses.index(200)}"
        assert context.versions.count() == 2
