"""Who is calling the API: an API key of the host's tenant, with the scopes the operation needs.

DRF's hooks around the one rule in tenants.access: the key is read from the
Authorization header only, checked against the host's tenant, and every
refusal is audited (without the secret).
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from audit.request_id import note as note_request
from audit.services import audit_record
from tenants.access import api_key_authenticate, require_scope
from tenants.api_keys import api_key_touch
from tenants.errors import AccessRefused
from tenants.models import ApiKey
from tenants.rate_limits import record_refusal

# The scope an operation needs, by HTTP method, unless the view names its own (required_scopes).
SCOPE_BY_METHOD = {"GET": "contexts:read", "HEAD": "contexts:read", "OPTIONS": "contexts:read"}
DEFAULT_WRITE_SCOPE = "contexts:write"


class KeyHolder:
    """The caller as DRF's request.user: not a person, an API key."""

    is_authenticated = True
    is_anonymous = False
    pk = None  # never recorded as created_by/updated_by, which name people

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"key {self.api_key.key_id} ({self.api_key.name})"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[KeyHolder, ApiKey]:
        tenant = request._request.tenant  # type: ignore[attr-defined]
        try:
            api_key = api_key_authenticate(authorization=request.META.get("HTTP_AUTHORIZATION"), host_tenant=tenant)
        except AccessRefused as refusal:
            flood = record_refusal(action="api.access_refused", tenant=tenant, details={
                "reason": refusal.problem_type, "method": request.method, "path": request.path})
            if flood is not None:
                raise Throttled(wait=flood.reset, detail="Too many requests with a refused API key from this "
                                                         "address; retry later with a valid key.") from None
            raise
        holder = KeyHolder(api_key)
        note_request(api_key_id=api_key.pk, api_key_label=str(holder))
        api_key_touch(api_key)
        return holder, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScope(BasePermission):
    """Let the call through if the key carries the scope its view and method need."""

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        scope = getattr(view, "required_scopes", {}).get(request.method) or SCOPE_BY_METHOD.get(
            request.method or "", DEFAULT_WRITE_SCOPE
        )
        try:
            require_scope(api_key, scope)
        except AccessRefused as refusal:
            audit_record(
                action="api.access_refused", tenant=api_key.tenant, outcome="denied",
                details={"reason": refusal.problem_type, "scope": scope, "method": request.method, "path": request.path},
            )
            raise
        return True
