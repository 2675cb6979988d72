"""audit_logs refuses UPDATE, DELETE and TRUNCATE; only prune_audit_logs removes old entries."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import InternalError, connection, transaction
from django.utils import timezone

from audit.models import AuditLog
from audit.services import audit_record


def entry_aged(days: int, action: str = "test.event") -> AuditLog:
    entry = audit_record(action=action)
    # Inserting is the one thing the table allows, so an old entry is made by inserting one with an old time.
    old = AuditLog.objects.create(
        action=action, actor_type="system", occurred_at=timezone.now() - dt.timedelta(days=days)
    )
    return old if days else entry


@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("UPDATE audit_logs SET action = 'tampered'", "UPDATE"),
        ("DELETE FROM audit_logs", "DELETE"),
        ("TRUNCATE audit_logs", "TRUNCATE"),
    ],
)
def test_the_database_refuses_to_change_or_remove_entries(db, sql, operation):
    audit_record(action="tenant.created", details={"n": 1})
    with pytest.raises(InternalError, match=f"audit_logs is append-only: {operation} is refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(AuditLog.objects.values_list("action", flat=True)) == ["tenant.created"]


def test_the_orm_cannot_delete_or_update_entries_either(db):
    entry = audit_record(action="tenant.created")
    with pytest.raises(InternalError), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(InternalError), transaction.atomic():
        entry.delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "tenant.created"


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_audit_logs", *args, stdout=out)
    return out.getvalue()


def test_prune_removes_exactly_the_entries_past_the_cut_and_records_itself(db):
    old = [entry_aged(400), entry_aged(366)]
    kept = [entry_aged(364), entry_aged(10), entry_aged(0)]

    assert prune("--older-than", "365d") == "Deleted 2 audit entries older than 365 days.\n"

    remaining = set(AuditLog.objects.values_list("pk", flat=True))
    assert not remaining & {e.pk for e in old}
    assert {e.pk for e in kept} <= remaining
    pruned = AuditLog.objects.get(action="audit.pruned")
    assert pruned.details["deleted"] == 2 and pruned.details["older_than_days"] == 365
    assert pruned.actor_type == "command" and pruned.actor_label.startswith("prune_audit_logs by ")
    # The guard is back: the same transaction cannot delete anything more.
    with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_logs")


def test_a_dry_run_counts_and_deletes_nothing(db):
    entry_aged(400)
    before = AuditLog.objects.count()
    assert prune("--older-than", "365d", "--dry-run") == (
        "1 audit entries are older than 365 days (dry run: nothing deleted).\n"
    )
    assert AuditLog.objects.count() == before


@pytest.mark.parametrize("age", ["365", "1y", "0d", "-5d", "d"])
def test_prune_refuses_an_age_that_is_not_days(db, age):
    with pytest.raises(CommandError, match="is not a number of days"):
        prune(f"--older-than={age}")


def test_prune_refuses_a_cut_younger_than_thirty_days(db):
    with pytest.raises(CommandError, match="'29d' is too young: entries are kept at least 30 days"):
        prune("--older-than", "29d")


def test_even_with_the_guard_lifted_the_database_keeps_entries_younger_than_thirty_days(db):
    old, young = entry_aged(31), entry_aged(29)
    with connection.cursor() as cursor:
        with transaction.atomic():
            cursor.execute("SET LOCAL audit.allow_prune = 'on'")
            cursor.execute("DELETE FROM audit_logs WHERE id = %s", [old.pk])
        with pytest.raises(InternalError, match="append-only: DELETE is refused"), transaction.atomic():
            cursor.execute("SET LOCAL audit.allow_prune = 'on'")
            cursor.execute("DELETE FROM audit_logs WHERE id = %s", [young.pk])
    assert not AuditLog.objects.filter(pk=old.pk).exists() and AuditLog.objects.filter(pk=young.pk).exists()
