"""Authentication that knows which tenant's host the person is signing in on."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from tenants.access import user_belongs_to_host
from tenants.models import User


class TenantModelBackend(ModelBackend):
    """Sign in by email among the users of the host's tenant (platform users on the public host)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        email = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if not email or password is None:
            return None
        host_tenant = getattr(request, "tenant", None)
        users = User.objects.filter(email=User.objects.normalize_email(email).lower())
        if host_tenant is None or host_tenant.is_public:
            users = users.filter(tenant__isnull=True)
        else:
            users = users.filter(tenant=host_tenant)
        user = users.select_related("tenant").first()
        if user is None:
            # Spend the same time as a real check, so timing does not tell which emails exist.
            User().set_password(password)
            return None
        if not user.check_password(password) or not self.user_can_authenticate(user):
            return None
        if host_tenant is not None and not user_belongs_to_host(user, host_tenant):
            return None
        return user
