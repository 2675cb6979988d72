"""Every write to a tenant's contexts: each change bumps the version and keeps a copy of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from contexts.models import Context, ContextVersion
from tenants.selectors import connection_tenant

# The fields a change may set; the rest are kept by the services.
EDITABLE_FIELDS = ("title", "content", "tags", "metadata", "expires_at")


class ContextError(ValueError):
    """A context change was refused; nothing was changed."""


class StaleVersion(ContextError):
    """The context changed since the caller read it."""


def _actor_id(actor: Any) -> int | None:
    return actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None


def _record_version(context: Context, actor: Any) -> None:
    ContextVersion.objects.create(
        context=context,
        version=context.version,
        title=context.title,
        content=context.content,
        tags=list(context.tags),
        metadata=context.metadata,
        changed_by_id=_actor_id(actor),
    )


def _audit(action: str, context: Context, actor: Any, **details: Any) -> None:
    audit_record(action=action, tenant=connection_tenant(), actor=actor, target=context,
                 details={"key": context.key, "version": context.version, **details})


@transaction.atomic
def context_create(
    *,
    key: str,
    title: str = "",
    content: str = "",
    tags: Iterable[str] = (),
    metadata: dict[str, Any] | None = None,
    expires_at: dt.datetime | None = None,
    actor: Any = None,
) -> Context:
    """Create a context at version 1 in the current tenant's schema."""
    now = timezone.now()
    context = Context.objects.create(
        key=key, title=title, content=content, tags=list(tags), metadata=metadata or {}, expires_at=expires_at,
        created_by_id=_actor_id(actor), updated_by_id=_actor_id(actor), created_at=now, updated_at=now,
    )
    _record_version(context, actor)
    _audit("context.created", context, actor)
    return context


@transaction.atomic
def context_update(
    *, context: Context, changes: dict[str, Any], actor: Any = None, expected_version: int | None = None
) -> Context:
    """Apply changes, bump the version and keep a copy; refuse if expected_version is stale."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ContextError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    current = Context.objects.select_for_update().get(pk=context.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleVersion(
            f"Context {current.key!r} is at version {current.version}, not {expected_version}; read it again."
        )
    for field, value in changes.items():
        setattr(current, field, value)
    current.version += 1
    current.updated_by_id = _actor_id(actor)
    current.updated_at = timezone.now()
    current.save()
    _record_version(current, actor)
    _audit("context.updated", current, actor, fields=sorted(changes))
    return current


@transaction.atomic
def context_set_archived(*, context: Context, archived: bool, actor: Any = None) -> Context:
    """Archive or unarchive a context (a change like any other: new version)."""
    current = Context.objects.select_for_update().get(pk=context.pk)
    if current.is_archived == archived:
        return current
    current.archived_at = timezone.now() if archived else None
    current.version += 1
    current.updated_by_id = _actor_id(actor)
    current.updated_at = timezone.now()
    current.save()
    _record_version(current, actor)
    _audit("context.archived" if archived else "context.unarchived", current, actor)
    return current


@transaction.atomic
def context_delete(*, context: Context, actor: Any = None) -> None:
    """Delete a context with its versions and summaries."""
    _audit("context.deleted", context, actor)
    context.delete()
