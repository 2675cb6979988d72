"""Every write to a tenant's contexts: each change bumps the version and keeps a copy of it.

The admin, the REST API and the MCP tools all come through here, so the rules
(shapes and plan limits in contexts.limits, preconditions, versions, audit)
hold whichever door a change uses. Functions work in the schema the connection
is on: the tenant's, set by the request's host.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Count, F, Func, Sum
from django.utils import timezone

from audit.services import audit_record, carried_entry, entry_insert_sql
from contexts.errors import (
    ContextError,
    ContextExpired,
    ContextNotFound,
    PreconditionRequired,
    QuotaExceeded,
    StaleVersion,
)
from contexts.limits import (
    PlanLimits,
    plan_limits,
    validate_content,
    validate_key,
    validate_metadata,
    validate_tags,
    validate_title,
)
from contexts.models import Context, ContextVersion
from contexts.summaries import summaries_forget, summary_request_automatic
from contexts.versions import version_get
from tenants.citus import citus_coordinator
from tenants.current import connection_tenant, tenant_db
from tenants.django_internals import cursor_without_search_path
from tenants.naming import quote_schema

# The fields a change may set; the rest are kept by the services.
EDITABLE_FIELDS = ("title", "content", "tags", "metadata", "expires_at")
# What a context is when a PUT leaves a field out: PUT replaces the whole context.
FIELD_DEFAULTS: dict[str, Any] = {"title": "", "content": "", "tags": [], "metadata": {}, "expires_at": None}


def _actor_id(actor: Any) -> int | None:
    # Only people are recorded in created_by/updated_by; an API key is named in the audit entry.
    return actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None


def _limits() -> PlanLimits:
    tenant = connection_tenant()
    return plan_limits(tenant.plan if tenant is not None else "free")


def _validated(changes: dict[str, Any], limits: PlanLimits) -> dict[str, Any]:
    """Check each field against the one set of rules; return the values as they will be stored."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ContextError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    checks = {"title": validate_title, "tags": validate_tags, "metadata": validate_metadata,
              "content": lambda value: validate_content(value, limits), "expires_at": _validate_expiry}
    return {field: checks[field](value) for field, value in changes.items()}


def _validate_expiry(value: Any) -> dt.datetime | None:
    if value is not None and not isinstance(value, dt.datetime):
        raise ContextError("expires_at must be a date and time.", field="expires_at")
    return value


def _check_quota(limits: PlanLimits, *, new_context: bool, added_bytes: int) -> None:
    """Refuse a change that would take the tenant past its plan's count or size."""
    if limits.max_contexts is None and limits.max_total_bytes is None:
        return
    # A scan of the tenant's contexts (octet_length reads TOAST headers, not the content itself).
    totals = Context.objects.aggregate(count=Count("id"), size=Sum(Func(F("content"), function="octet_length")))
    count, size = totals["count"] or 0, totals["size"] or 0
    if new_context and limits.max_contexts is not None and count + 1 > limits.max_contexts:
        raise QuotaExceeded(f"This tenant holds {count} contexts, the most its plan allows.")
    if limits.max_total_bytes is not None and added_bytes > 0 and size + added_bytes > limits.max_total_bytes:
        raise QuotaExceeded(
            f"This change would take the tenant's contexts to {size + added_bytes} bytes; "
            f"its plan allows {limits.max_total_bytes}."
        )


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
    # Every change makes a version; a tenant that asks for summaries on change gets one of it, in this transaction.
    summary_request_automatic(context=context, actor=actor)


def _audit(action: str, context: Context, actor: Any, **details: Any) -> None:
    audit_record(action=action, tenant=connection_tenant(), actor=actor, target=context,
                 details={"key": context.key, "version": context.version, **details})


def _locked(key: str) -> Context:
    validate_key(key)  # a key no context can have (a NUL in it would fail in PostgreSQL) is refused by name
    try:
        return Context.objects.select_for_update().get(key=key)
    except Context.DoesNotExist:
        raise ContextNotFound(f"No context has the key {key!r}.") from None


def _check_version(context: Context, expected_version: int | None) -> None:
    if expected_version is not None and context.version != expected_version:
        raise StaleVersion(
            f"Context {context.key!r} is at version {context.version}, not {expected_version}; read it again.",
            current_version=context.version,
        )


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
    """Create a context at version 1 in the current tenant's schema; refuse a key that exists."""
    validate_key(key)
    limits = _limits()
    values = _validated({"title": title, "content": content, "tags": list(tags), "metadata": metadata or {},
                         "expires_at": expires_at}, limits)
    _check_quota(limits, new_context=True, added_bytes=len(values["content"].encode()))
    now = timezone.now()
    try:
        with transaction.atomic():
            context = Context.objects.create(
                key=key, created_by_id=_actor_id(actor), updated_by_id=_actor_id(actor), created_at=now,
                updated_at=now, **values,
            )
    except IntegrityError:
        raise StaleVersion(f"A context with the key {key!r} already exists.", current_version=None) from None
    _record_version(context, actor)
    _audit("context.created", context, actor)
    return context


@transaction.atomic
def context_update(
    *, context: Context, changes: dict[str, Any], actor: Any = None, expected_version: int | None = None
) -> Context:
    """Apply changes, bump the version and keep a copy; refuse if expected_version is stale."""
    return _update(_locked_by_pk(context), changes, actor=actor, expected_version=expected_version)


def _locked_by_pk(context: Context) -> Context:
    try:
        return Context.objects.select_for_update().get(pk=context.pk)
    except Context.DoesNotExist:
        raise ContextNotFound(f"No context has the key {context.key!r}.") from None


def _update(current: Context, changes: dict[str, Any], *, actor: Any, expected_version: int | None,
            action: str = "context.updated", **details: Any) -> Context:
    limits = _limits()
    values = _validated(changes, limits)
    _check_version(current, expected_version)
    values = {field: value for field, value in values.items() if getattr(current, field) != value}
    if not values:
        return current  # nothing differs: no new version, no audit entry (a retried write is harmless)
    if "content" in values:
        _check_quota(limits, new_context=False,
                     added_bytes=len(values["content"].encode()) - len(current.content.encode()))
    for field, value in values.items():
        setattr(current, field, value)
    current.version += 1
    current.updated_by_id = _actor_id(actor)
    current.updated_at = timezone.now()
    current.save()
    _record_version(current, actor)
    _audit(action, current, actor, fields=sorted(values), **details)
    return current


@transaction.atomic
def context_put(
    *, key: str, values: dict[str, Any], expected_version: int | None = None, create_only: bool = False,
    actor: Any = None,
) -> tuple[Context, bool]:
    """Create (create_only) or replace (expected_version) a context; return it and whether it was created.

    Every write names what it expects, so that no update is lost: create_only
    refuses a key that exists, expected_version one that moved on.
    """
    if create_only:
        return context_create(key=key, actor=actor, **values), True
    if expected_version is None:
        raise PreconditionRequired(
            "Say what you expect: If-None-Match: * to create this context, or If-Match with its ETag to replace it."
        )
    validate_key(key)
    current = _locked(key)
    replaced = {**FIELD_DEFAULTS, **values}
    return _update(current, replaced, actor=actor, expected_version=expected_version), False


@transaction.atomic
def context_patch(*, key: str, changes: dict[str, Any], expected_version: int, actor: Any = None) -> Context:
    """Change some fields of a context at the version the caller read."""
    return _update(_locked(key), changes, actor=actor, expected_version=expected_version)


# A read counts itself (access_count, last_accessed_at) in the statement that reads the row. Those counts are
# statistics, not content: when the statement is a transaction of its own (autocommit, as a request's read is),
# it commits without waiting for its WAL record to reach the disk (synchronous_commit off, set for that one
# transaction by set_config(..., true), the function form of SET LOCAL: no extra round trip). A crash of the
# database server may then lose the counts of its last fraction of a second (at most 3 x wal_writer_delay, 600 ms
# by default), never a context's content or a write's version: every other statement, and a read made inside a
# larger transaction (whose other writes keep the durability their caller chose), commits as before.
_COUNT_READS = "UPDATE {table} SET access_count = access_count + 1, last_accessed_at = now()"
# In the WHERE clause (evaluated for the rows the key selects) rather than a FROM subquery, which PostgreSQL takes
# some 50 µs longer to plan.
_COUNTS_MAY_WAIT = " AND set_config('synchronous_commit', 'off', true) IS NOT NULL"


@functools.cache
def _read_shape(vendor: str) -> tuple[list[str], str, list[tuple[int, list[Any], Any]]]:
    """The attributes a counted read returns, its RETURNING list, and the converters its values need (per backend)."""
    # Every column but the search vector, which only searches use and which is the row's longest value.
    fields = [field for field in Context._meta.concrete_fields if not field.generated]
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(Context._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:  # as a queryset's compiler applies them (the JSON of metadata, with psycopg2)
            converters.append((index, found, column))
    returning = ", ".join(connection.ops.quote_name(cast(str, field.column)) for field in fields)
    return [field.attname for field in fields], returning, converters


def _count_reads(condition: str, params: list[Any]) -> list[Context]:
    """Count a read of the contexts the condition selects (of live ones, as the caller says) and return them."""
    names, returning, converters = _read_shape(connection.vendor)
    # Citus refuses a volatile function in the WHERE clause of an UPDATE of a distributed table: there the counts
    # commit durably, as any statement does.
    may_wait = "" if connection.in_atomic_block or citus_coordinator() else _COUNTS_MAY_WAIT
    # The table named in the tenant's schema, so that the statement needs no search_path: Django's own cursor
    # (health check, error wrapping, query log) without the SET search_path django-tenants sends before each
    # statement, a round trip of its own. The session's path is left as it was, where django-tenants believes it
    # is, and nothing here depends on it: behind PgBouncer a path set by an earlier transaction cannot misdirect
    # it (../shared/DESIGN.md, "qualify names").
    table = f"{quote_schema(tenant_db.schema_name)}.{connection.ops.quote_name(Context._meta.db_table)}"
    carried = carried_entry()
    if carried is None:
        sql = f"{_COUNT_READS.format(table=table)} WHERE {condition}{may_wait} RETURNING {returning}"
    else:
        # The call's audit entry rides with the read (audit.services), in its transaction: committed as the count
        # is, so that a crash of the server may lose the last fraction of a second of reads' counts and entries
        # together (never one without the other, never a change or its entry), unless DURABLE_READ_AUDIT asks
        # every read's entry to wait for the disk, as a change's does (a flush per read: bench/mcp.py).
        wait = "" if settings.DURABLE_READ_AUDIT else may_wait
        read = f"{_COUNT_READS.format(table=table)} WHERE {condition}{wait} RETURNING {returning}"
        insert, entry_params = entry_insert_sql(carried.entry, when="EXISTS (SELECT FROM read)")
        sql, params = f"WITH read AS ({read}), entry AS ({insert}) SELECT * FROM read", [*params, *entry_params]
    with cursor_without_search_path(connections[DEFAULT_DB_ALIAS]) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if carried is not None and rows:
        carried.written = True
    contexts = []
    for row in rows:
        values = list(row)
        for index, functions, column in converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        contexts.append(Context.from_db(connection.alias, names, values))
    return contexts


def context_read(*, key: str, include_expired: bool = False) -> Context:
    """Return a context and count the read, in one statement (concurrent reads all count)."""
    validate_key(key)
    expiry = "" if include_expired else " AND (expires_at IS NULL OR expires_at > now())"
    found = _count_reads(f"key = %s{expiry}", [key])
    if found:
        return found[0]
    if not include_expired and Context.objects.filter(key=key).exists():
        raise ContextExpired(f"Context {key!r} has expired.")
    raise ContextNotFound(f"No context has the key {key!r}.")


def contexts_read_many(*, keys: list[str]) -> list[Context]:
    """Return the live contexts among these keys in one statement, counting each read."""
    for key in keys:
        validate_key(key)
    return _count_reads("key = ANY(%s) AND (expires_at IS NULL OR expires_at > now())", [list(keys)])


@transaction.atomic
def context_set_archived(*, context: Context, archived: bool, actor: Any = None,
                         expected_version: int | None = None) -> Context:
    """Archive or unarchive a context (a change like any other: new version)."""
    current = _locked_by_pk(context)
    _check_version(current, expected_version)
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
def context_archive(*, key: str, archived: bool, actor: Any = None, expected_version: int | None = None) -> Context:
    """Archive or unarchive the context with this key."""
    return context_set_archived(context=_locked(key), archived=archived, actor=actor,
                                expected_version=expected_version)


@transaction.atomic
def context_delete(*, context: Context, actor: Any = None, expected_version: int | None = None) -> None:
    """Delete a context with its versions and summaries."""
    current = _locked_by_pk(context)
    _check_version(current, expected_version)
    _audit("context.deleted", current, actor)
    summaries_forget(context=current)
    current.delete()


@transaction.atomic
def context_delete_by_key(*, key: str, expected_version: int, actor: Any = None) -> None:
    """Delete the context with this key, at the version the caller read."""
    context_delete(context=_locked(key), actor=actor, expected_version=expected_version)


@transaction.atomic
def context_restore(*, key: str, version: int, expected_version: int, actor: Any = None) -> Context:
    """Make a past version current again, as a new version (history is never rewritten)."""
    current = _locked(key)
    past = version_get(context=current, version=version)
    values = {"title": past.title, "content": past.content, "tags": list(past.tags), "metadata": past.metadata}
    return _update(current, values, actor=actor, expected_version=expected_version,
                   action="context.restored", restored_version=version)

