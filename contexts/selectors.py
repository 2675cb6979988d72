"""Reads that more than one door needs: who the user ids on a tenant's rows name, a context by key."""

from __future__ import annotations

from collections.abc import Iterable

from contexts.errors import ContextNotFound
from contexts.limits import validate_key
from contexts.models import Context
from tenants.models import Tenant, User


def person_label(user: User) -> str:
    """How a person is shown: their name and email, or the email alone."""
    return f"{user.full_name} <{user.email}>" if user.full_name else user.email


def people_by_id(*, tenant: Tenant, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Name the users of this tenant among these ids, in one query; ids of anyone else stay unnamed."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    # Contexts refer to users by id alone (no foreign key leaves the tenant's schema), so the
    # tenant is part of the lookup: an id of another tenant's user must name nobody here.
    users = User.objects.filter(tenant=tenant, pk__in=wanted).only("pk", "email", "full_name")
    return {user.pk: person_label(user) for user in users}



def context_get(*, key: str) -> Context:
    """Return the context with this key (expired or archived too), without counting a read."""
    validate_key(key)  # a key no context can have (a NUL in it would fail in PostgreSQL) is refused by name
    try:
        return Context.objects.get(key=key)
    except Context.DoesNotExist:
        raise ContextNotFound(f"No context has the key {key!r}.") from None
