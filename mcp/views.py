"""Views that every host serves."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers; tell which tenant the host serves."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    tenant = getattr(request, "tenant", None)
    return JsonResponse({"status": "ok", "tenant": tenant.slug if tenant is not None else None})
