"""A test client for one tenant's REST API: its host, its key, JSON in and out."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from tenants.api_keys import api_key_create
from tenants.models import ApiKey, Tenant

ALL_SCOPES = list(ApiKey.Scope.values)


class Api:
    """Calls /api/v1/ on a tenant's host with a key (or none)."""

    def __init__(self, host: str, key: str | None) -> None:
        self.client = Client(HTTP_HOST=host)
        self.key = key

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             content_type: str = "application/json", raw: str | bytes | None = None) -> Any:
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        if self.key is not None:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.key}")
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method.lower())(f"/api/v1/{path}", data=data, content_type=content_type,
                                                    **extra)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(f"/api/v1/{path}", kwargs.pop("params", {}), **{
            **({"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}),
            **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in kwargs.pop("headers", {}).items()},
        })

    def create(self, key: str, **fields: Any) -> Any:
        """PUT a new context (If-None-Match: *)."""
        return self.call("PUT", f"contexts/{key}", fields, headers={"If-None-Match": "*"})


def api_for(tenant: Tenant, *, scopes: list[str] | None = None, host: str | None = None) -> Api:
    """An Api on the tenant's host (or another host) with a new key of that tenant."""
    _, raw_key = api_key_create(tenant=tenant, name="tests", scopes=scopes or ALL_SCOPES)
    return Api(host or f"{tenant.slug}.localhost", raw_key)


def problem_type(response: Any) -> str:
    """The slug of a problem+json answer's type."""
    assert response["Content-Type"] == "application/problem+json", (response.status_code, response.content[:300])
    return response.json()["type"].rsplit("/", 1)[-1]
