"""Recording audit events: the one function that writes audit_logs (and the one that prunes it)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import psycopg2
from django.db import DatabaseError, connection, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit.models import AuditLog
from audit.request_id import current_context

if TYPE_CHECKING:
    from django.db.models import Model

    from tenants.models import Tenant, User

logger = logging.getLogger(__name__)

# Keys whose values are never written to an entry, wherever they appear in its details.
SECRET_KEY_PATTERN = re.compile(r"pass|secret|token|api[_-]?key|authori[sz]ation|cookie|session|credential", re.I)
REDACTED = "[redacted]"


def scrub(value: Any) -> Any:
    """Return value with every secret-looking key's value replaced, at any depth."""
    if isinstance(value, dict):
        return {key: REDACTED if SECRET_KEY_PATTERN.search(str(key)) else scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def audit_record(
    *,
    action: str,
    tenant: Tenant | None = None,
    actor: User | None = None,
    actor_label: str = "",
    target: Model | None = None,
    outcome: str = AuditLog.Outcome.SUCCESS,
    details: dict[str, Any] | None = None,
    independent: bool = False,
) -> AuditLog | None:
    """Record one event; never let a failure to record break the action it records.

    By default the entry joins the caller's transaction, so an action that is
    rolled back leaves no entry. With independent=True (refusals and failures,
    whose own transaction is about to roll back) it is committed on its own.
    The actor is the user given, else a command when actor_label names one
    (command_actor_label) or one is running (manage.py), else the request's
    API key, else its signed-in user, else the system.
    """
    entry = _entry(action=action, tenant=tenant, actor=actor, actor_label=actor_label, target=target,
                   outcome=outcome, details=details)
    try:
        if independent and connection.in_atomic_block:
            _insert_on_own_connection(entry)
        elif connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failed insert leaves the caller's transaction usable
                entry.save()
        else:
            entry.save()  # one INSERT in autocommit: no transaction to protect, and no BEGIN/COMMIT round trips
    except (DatabaseError, psycopg2.Error):
        logger.exception("Could not write the audit entry %s (%s)", action, outcome)
        return None
    return entry


def _entry(*, action: str, tenant: Tenant | None, actor: User | None = None, actor_label: str = "",
           target: Model | None = None, outcome: str = AuditLog.Outcome.SUCCESS,
           details: dict[str, Any] | None = None) -> AuditLog:
    """The entry audit_record would write (unsaved): the actor and the request's fields from its context."""
    context = current_context()
    if actor is not None and actor.is_authenticated:
        actor_type, actor_id, label = AuditLog.ActorType.USER, actor.pk, actor.email
    elif actor_label:
        actor_type, actor_id, label = AuditLog.ActorType.COMMAND, None, actor_label
    elif context.command:
        actor_type, actor_id, label = AuditLog.ActorType.COMMAND, None, context.command
    elif context.api_key_id is not None:
        actor_type, actor_id, label = AuditLog.ActorType.API_KEY, context.api_key_id, context.api_key_label
    elif context.user_id is not None:
        actor_type, actor_id, label = AuditLog.ActorType.USER, context.user_id, ""
    elif context.request_id:
        actor_type, actor_id, label = AuditLog.ActorType.ANONYMOUS, None, ""
    else:
        actor_type, actor_id, label = AuditLog.ActorType.SYSTEM, None, ""
    return AuditLog(
        occurred_at=timezone.now(),
        action=action,
        tenant_id=getattr(tenant, "pk", None),
        tenant_slug=getattr(tenant, "slug", "") or "",
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=label[:254],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk)[:128] if target is not None else "",
        outcome=outcome,
        request_id=context.request_id,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        details=scrub(details or {}),
    )


# --- an entry written by the read it records ---------------------------------------------------------------------
# An MCP call is audited whatever it does, and its commonest call, reading one context, is otherwise a single
# statement (the counting read, contexts.services). Rather than a second round trip for the entry, the read writes
# it in its own statement (WITH read AS (UPDATE … RETURNING …), entry AS (INSERT INTO audit_logs … WHERE a row was
# read) SELECT … FROM read): one statement, and one transaction for the read and its record, so neither is kept
# without the other. The entry is prepared before the call with the outcome the read would give it (success); a
# call that reads nothing, or fails after reading, is recorded by audit_record as before.


@dataclass
class CarriedEntry:
    """An audit entry that the next counted read of this call writes in its own statement, if it reads a row."""

    action: str
    tenant: Tenant | None
    details: dict[str, Any]
    written: bool = False

    @functools.cached_property
    def entry(self) -> AuditLog:
        # Built when a read asks for it: most calls (listings, writes) never do.
        return _entry(action=self.action, tenant=self.tenant, details=self.details)


_carried: ContextVar[CarriedEntry | None] = ContextVar("audit_carried_entry", default=None)


@contextmanager
def audit_carried_by_read(*, action: str, tenant: Tenant | None, details: dict[str, Any]) -> Iterator[CarriedEntry]:
    """Within the block, the first read that counts itself also writes this success entry (see above)."""
    carried = CarriedEntry(action, tenant, details)
    token = _carried.set(carried)
    try:
        yield carried
    finally:
        _carried.reset(token)


def carried_entry() -> CarriedEntry | None:
    """The entry a counted read should write now, if the current call prepared one and nothing wrote it yet."""
    carried = _carried.get()
    return carried if carried is not None and not carried.written else None


def entry_insert_sql(entry: AuditLog, *, when: str) -> tuple[str, list[Any]]:
    """INSERT … SELECT of one entry into public.audit_logs, made only where the SQL condition `when` holds."""
    fields, insert = _entry_insert(connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(entry, True), connection) for field in fields]
    return f"{insert} WHERE {when}", params


@functools.cache
def _entry_insert(vendor: str) -> tuple[list[Any], str]:
    """The columns of an entry and the INSERT … SELECT that writes them (per backend: the same for every entry)."""
    fields = [field for field in AuditLog._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(cast(str, field.column)) for field in fields)
    # Typed placeholders: in INSERT … SELECT a bare literal would be text, which no timestamp or inet column takes.
    values = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
    # Named in public: the statement is sent without django-tenants' SET search_path (its read names its schema).
    table = f"public.{connection.ops.quote_name(AuditLog._meta.db_table)}"
    return fields, f"INSERT INTO {table} ({columns}) SELECT {values}"


def _insert_on_own_connection(entry: AuditLog) -> None:
    """Commit an entry at once on a connection of its own, whatever the caller's transaction does next."""
    fields = [field for field in AuditLog._meta.concrete_fields if not field.primary_key]
    query = InsertQuery(AuditLog)
    query.insert_values(fields, [entry])
    # Django's own compiler, so the columns and their conversions are exactly those of a save().
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    params_for_own = {**connection.get_connection_params(), "options": "-c search_path=public"}
    own = psycopg2.connect(**params_for_own)
    try:
        own.autocommit = True
        with own.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        own.close()


def audit_prune(*, older_than: dt.timedelta, dry_run: bool = False, actor_label: str = "") -> int:
    """Delete the entries older than the cut and record that it was done; return how many (or would be)."""
    cutoff = timezone.now() - older_than
    doomed = AuditLog.objects.filter(occurred_at__lt=cutoff)
    if dry_run:
        return doomed.count()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The append-only trigger lets DELETE through only where this is set, and SET LOCAL
            # confines that to this transaction.
            cursor.execute("SET LOCAL audit.allow_prune = 'on'")
        deleted, _ = doomed.delete()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.allow_prune = 'off'")
        audit_record(
            action="audit.pruned",
            actor_label=actor_label,
            details={"deleted": deleted, "older_than_days": older_than.days, "cutoff": cutoff.isoformat()},
        )
    return deleted
