"""Views that every host serves."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers; tell which tenant the host serves."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    tenant = getattr(request, "tenant", None)
    return JsonResponse({"status": "ok", "tenant": tenant.slug if tenant is not None else None})


def live(request: HttpRequest) -> HttpResponse:
    """Answer 200 while the process serves requests, asking nothing of the database.

    For a load balancer's liveness probe (a database outage should not restart every
    worker), and the benchmark's baseline of a request that goes through routing and
    the middleware but touches no table (with REDIS_URL, routing reads the cache).
    """
    return HttpResponse("ok\n", content_type="text/plain")
