"""Online data migrations (tenants.engine.backfill, manage.py backfill): batches, resumption, locks, the command."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from contextlib import closing
from io import StringIO

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditLog
from tenants.db_errors import backend_pid
from tenants.engine.backfill import (
    Backfill,
    BackfillBusy,
    BackfillError,
    BackfillObserver,
    BackfillRunner,
    BatchDone,
    BatchRetry,
    backfill_status,
    register,
    unregister,
)
from tenants.models import BackfillProgress
from tenants.services import tenant_create
from tests.catalog import applied
from tests.conftest import PROJECT_DIR, child_database_url
from tests.tenants.backfills_for_tests import COUNT_VISITS, TITLE_FROM_KEY, register_all


@pytest.fixture
def test_backfills():
    register_all()
    yield
    unregister(COUNT_VISITS.name)
    unregister(TITLE_FROM_KEY.name)


def other_connection(name: str) -> psycopg2.extensions.connection:
    params = connection.get_connection_params()
    params["application_name"] = name
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


def seed(schema_name: str, count: int, *, title: str = "") -> None:
    """Insert count contexts in one statement (SQL is what is tested here: the table's size, not its content)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{schema_name}".contexts (key, title, content, tags, metadata, version, access_count, '
            "created_at, updated_at) SELECT 'key-' || g, %s, 'content ' || g, '{}', '{}', 1, 0, now(), now() "
            "FROM generate_series(1, %s) g",
            [title, count],
        )


def access_counts(schema_name: str) -> dict[int, int]:
    """How many contexts have each access_count."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT access_count, count(*) FROM "{schema_name}".contexts GROUP BY 1')
        return dict(cursor.fetchall())


def locks_held_by(pid: int) -> list[tuple[str, str | None, str]]:
    """The locks a backend holds, other than advisory ones, seen from another session."""
    with closing(other_connection("test lock watcher")) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT locktype, relation::regclass::text, mode FROM pg_locks "
            "WHERE pid = %s AND locktype NOT IN ('advisory', 'virtualxid')",
            [pid],
        )
        return cursor.fetchall()


# One row of the second batch of 100 (a locking SELECT with OFFSET would lock the rows it skips too).
LOCK_ROW_151 = (
    "SELECT id FROM tenant_acme.contexts WHERE id = (SELECT id FROM tenant_acme.contexts ORDER BY id OFFSET 150 LIMIT 1) "
    "FOR UPDATE"
)


class Recorder(BackfillObserver):
    def __init__(self) -> None:
        self.batches: list[BatchDone] = []
        self.retries: list[BatchRetry] = []

    def batch_done(self, batch: BatchDone) -> None:
        self.batches.append(batch)

    def batch_retry(self, retry: BatchRetry) -> None:
        self.retries.append(retry)


def test_every_row_is_changed_once_a_batch_at_a_time_each_committed_and_holding_nothing_between(committed):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 1000)
    seed("tenant_globex", 250)
    connection.ensure_connection()
    helper_pid = backend_pid(connection)
    held_between: list[list[tuple[str, str | None, str]]] = []

    class CheckLocks(Recorder):
        def batch_done(self, batch: BatchDone) -> None:
            super().batch_done(batch)
            held_between.append(locks_held_by(helper_pid))  # after the batch's COMMIT, before the next

    observer = CheckLocks()
    result = BackfillRunner(COUNT_VISITS, batch_size=100, observer=observer).run(["tenant_acme", "tenant_globex"])

    assert [(o.schema_name, o.state, o.rows, o.batches) for o in result.outcomes] == [
        ("tenant_acme", "done", 1000, 10), ("tenant_globex", "done", 250, 3),
    ]
    assert access_counts("tenant_acme") == {1: 1000} and access_counts("tenant_globex") == {1: 250}
    assert len(held_between) == 13 and all(locks == [] for locks in held_between)
    # Batches follow each other by key, without gaps or overlaps.
    acme = [b for b in observer.batches if b.schema_name == "tenant_acme"]
    assert all(a.upto == b.after for a, b in zip(acme, acme[1:], strict=False))
    progress = BackfillProgress.objects.get(backfill=COUNT_VISITS.name, schema_name="tenant_acme")
    assert (progress.rows, progress.batches, progress.last_pk) == (1000, 10, acme[-1].upto)
    assert progress.finished_at is not None

    # The run is in the audit log, with what it did.
    entries = list(AuditLog.objects.filter(action__startswith="backfill.").order_by("id"))
    assert [entry.action for entry in entries] == ["backfill.started", "backfill.finished"]
    assert entries[1].details["rows"] == 1250 and entries[1].details["done"] == 2 and entries[1].outcome == "success"

    # A second run does nothing: the schemas are recorded as done.
    again = BackfillRunner(COUNT_VISITS).run(["tenant_acme", "tenant_globex"])
    assert [o.state for o in again.outcomes] == ["already done", "already done"]
    assert access_counts("tenant_acme") == {1: 1000}


def test_rows_written_after_the_start_are_left_to_the_code_that_wrote_them(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 300)

    class InsertDuringTheRun(Recorder):
        def batch_done(self, batch: BatchDone) -> None:
            super().batch_done(batch)
            if len(self.batches) == 1:
                with closing(other_connection("test writer")) as conn, conn.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO tenant_acme.contexts (key, title, content, tags, metadata, version, access_count,"
                        " created_at, updated_at) VALUES ('late', '', '', '{}', '{}', 1, 7, now(), now())"
                    )

    result = BackfillRunner(COUNT_VISITS, batch_size=100, observer=InsertDuringTheRun()).run(["tenant_acme"])

    assert result.outcomes[0].rows == 300
    assert access_counts("tenant_acme") == {1: 300, 7: 1}


def test_the_orm_form_fills_only_what_is_missing(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tenant_acme.contexts SET title = 'kept' WHERE key = 'key-3'")

    result = BackfillRunner(TITLE_FROM_KEY).run(["tenant_acme"])

    assert (result.outcomes[0].rows, result.outcomes[0].batches) == (4, 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, title FROM tenant_acme.contexts ORDER BY id")
        assert cursor.fetchall() == [
            ("key-1", "KEY-1"), ("key-2", "KEY-2"), ("key-3", "kept"), ("key-4", "KEY-4"), ("key-5", "KEY-5"),
        ]


def test_a_schema_without_the_required_migration_waits_and_the_others_go_on(committed):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 10)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_globex.django_migrations WHERE app = %s AND name = %s", COUNT_VISITS.requires)

    result = BackfillRunner(COUNT_VISITS).run(["tenant_acme", "tenant_globex"])

    assert [(o.schema_name, o.state) for o in result.outcomes] == [("tenant_acme", "done"), ("tenant_globex", "waiting")]
    assert not BackfillProgress.objects.filter(schema_name="tenant_globex").exists()
    status = backfill_status(COUNT_VISITS, ["tenant_acme", "tenant_globex"])
    assert (status.done, status.waiting, status.complete) == (1, 1, False)


def test_a_batch_blocked_past_the_lock_timeout_gives_up_and_is_tried_again(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 300)
    holder = other_connection("test row holder")
    holder.autocommit = False
    with holder.cursor() as cursor:  # a request's long transaction holds one row of the second batch
        cursor.execute(LOCK_ROW_151)

    class ReleaseOnRetry(Recorder):
        def batch_retry(self, retry: BatchRetry) -> None:
            super().batch_retry(retry)
            holder.rollback()  # the request ends once the batch has given up waiting

    observer = ReleaseOnRetry()
    try:
        result = BackfillRunner(
            COUNT_VISITS, batch_size=100, lock_timeout_ms=300, retry_pause_s=0, observer=observer
        ).run(["tenant_acme"])
    finally:
        holder.close()

    assert len(observer.retries) == 1
    retry = observer.retries[0]
    assert retry.sqlstate == "55P03" and "lock timeout" in retry.error
    assert 300 <= retry.waited_ms < 300 + 1000  # it waited its lock_timeout, not the transaction's length
    assert [b.retries for b in observer.batches] == [0, 1, 0]
    assert access_counts("tenant_acme") == {1: 300}  # the rolled-back attempt changed nothing
    assert result.outcomes[0].retries == 1
    assert BackfillProgress.objects.get(schema_name="tenant_acme").retries == 1


def test_a_migration_holding_the_table_makes_the_backfill_wait_its_lock_timeout_then_go_on(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 300)
    migration = other_connection("test migration")
    migration.autocommit = False
    migration.cursor().execute("ALTER TABLE tenant_acme.contexts ADD COLUMN note text")  # ACCESS EXCLUSIVE, held

    class CommitOnRetry(Recorder):
        def batch_retry(self, retry: BatchRetry) -> None:
            super().batch_retry(retry)
            migration.commit()  # the migration's transaction ends; the backfill goes on after it

    observer = CommitOnRetry()
    try:
        result = BackfillRunner(
            COUNT_VISITS, batch_size=100, lock_timeout_ms=300, retry_pause_s=0, observer=observer
        ).run(["tenant_acme"])
    finally:
        migration.close()

    assert [(retry.sqlstate, retry.waited_ms >= 300) for retry in observer.retries] == [("55P03", True)]
    assert result.outcomes[0].state == "done" and access_counts("tenant_acme") == {1: 300}


def test_a_schema_whose_rows_stay_locked_fails_keeping_its_batches_and_the_next_schema_goes_on(committed):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 300)
    seed("tenant_globex", 100)
    holder = other_connection("test row holder")
    holder.autocommit = False
    holder.cursor().execute(LOCK_ROW_151)
    try:
        result = BackfillRunner(COUNT_VISITS, batch_size=100, lock_timeout_ms=50, max_retries=2, retry_pause_s=0).run(
            ["tenant_acme", "tenant_globex"]
        )
    finally:
        holder.rollback()
        holder.close()

    acme, globex = result.outcomes
    assert acme.state == "failed" and "met 3 lock timeouts" in acme.error
    entry = AuditLog.objects.get(action="backfill.failed")
    assert entry.outcome == "failure" and entry.details["failures"] == [{"schema": "tenant_acme", "error": acme.error}]
    assert globex.state == "done"
    assert access_counts("tenant_acme") == {1: 100, 0: 200}  # the first batch is kept
    progress = BackfillProgress.objects.get(schema_name="tenant_acme")
    assert progress.batches == 1 and progress.finished_at is None and "lock timeouts" in progress.error

    again = BackfillRunner(COUNT_VISITS, batch_size=100).run(["tenant_acme", "tenant_globex"])
    assert [o.state for o in again.outcomes] == ["done", "already done"]
    assert again.outcomes[0].resumed_after == progress.last_pk
    assert access_counts("tenant_acme") == {1: 300}


def test_a_schema_whose_data_the_database_refuses_fails_alone_and_the_next_goes_on(committed):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 150)
    seed("tenant_globex", 150)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tenant_acme.contexts SET key = 'refused' WHERE key = 'key-120'")
    # version >= 1 is a check constraint: the row 'refused', in acme's second batch, would break it.
    lower_versions = Backfill(
        name="test_lower_versions", model="contexts.Context", requires=COUNT_VISITS.requires, batch_size=100,
        sql="UPDATE contexts SET access_count = 1, version = CASE key WHEN 'refused' THEN 0 ELSE version END "
            "WHERE id > %(after)s AND id <= %(upto)s",
    )

    result = BackfillRunner(lower_versions).run(["tenant_acme", "tenant_globex"])

    acme, globex = result.outcomes
    assert acme.state == "failed" and "contexts_version_positive" in acme.error and acme.error.startswith("IntegrityError")
    assert (acme.batches, globex.state, globex.rows) == (1, "done", 150)
    assert access_counts("tenant_acme") == {1: 100, 0: 50}  # its first batch is kept, the refused one undone
    assert "contexts_version_positive" in BackfillProgress.objects.get(schema_name="tenant_acme").error


def test_a_batch_that_runs_past_the_statement_timeout_is_tried_again_at_half_the_size(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 10)
    # A slow statement, made so on the server: 50 ms a row.
    slow = Backfill(
        name="test_slow_rows", model="contexts.Context", requires=COUNT_VISITS.requires, batch_size=8,
        sql="UPDATE contexts SET access_count = access_count + 1 WHERE id > %(after)s AND id <= %(upto)s "
            "AND pg_sleep(0.05) IS NOT NULL",
    )
    observer = Recorder()

    result = BackfillRunner(slow, statement_timeout_ms=150, retry_pause_s=0, observer=observer).run(["tenant_acme"])

    assert [retry.sqlstate for retry in observer.retries] == ["57014", "57014"]  # 8 rows, then 4, were too slow
    assert [batch.rows for batch in observer.batches] == [2, 2, 2, 2, 2]
    assert result.outcomes[0].state == "done" and access_counts("tenant_acme") == {1: 10}


def test_a_backfill_refuses_to_run_inside_a_transaction(db):
    with pytest.raises(BackfillError, match="cannot run inside a transaction"):
        BackfillRunner(COUNT_VISITS).run([])


def test_a_second_run_of_the_same_backfill_is_refused_while_one_goes_on(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 10)
    other = other_connection("test other run")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)", [0x6D6362, zlib.crc32(COUNT_VISITS.name.encode()) & 0x7FFFFFFF]
            )
        with pytest.raises(BackfillBusy, match=r"Another run of backfill 'test_count_visits' is going on \(pid \d+"):
            BackfillRunner(COUNT_VISITS).run(["tenant_acme"])
    finally:
        other.close()
    assert access_counts("tenant_acme") == {0: 10}
    assert not BackfillProgress.objects.exists()


def start_child_run() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "mcp.settings"}
    return subprocess.Popen(
        # Batches 100 ms apart: the signal, sent once some are committed, always finds the run with most still to do.
        [sys.executable, "-m", "tests.tenants.backfill_child", "test_count_visits", "--pause", "100"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def batches_committed() -> int:
    return BackfillProgress.objects.filter(backfill=COUNT_VISITS.name).values_list("batches", flat=True).first() or 0


def stop_child_after(child: subprocess.Popen, batches: int, sig: signal.Signals) -> None:
    """Send sig once the child has committed that many batches in all (a state of the database, not a time)."""
    try:
        deadline = time.monotonic() + 60
        while batches_committed() < batches:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, f"the child never got to batch {batches}"
            time.sleep(0.02)
        child.send_signal(sig)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with connection.cursor() as cursor:  # the stopped session's last statements are finished or undone
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = 'mcp' AND state <> 'idle'"
        )
        assert cursor.fetchone()[0] == 0
        # A killed client's backend ends when it reads the closed socket, a moment after the kill: until then it
        # still holds the run's advisory lock, and the next run would be refused as busy.
        deadline = time.monotonic() + 30
        while True:
            cursor.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                           "WHERE l.locktype = 'advisory' AND d.datname = current_database() "
                           "AND l.pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                break
            assert time.monotonic() < deadline, "the stopped run's session never let its lock go"
            time.sleep(0.02)


@pytest.mark.subprocess
def test_runs_interrupted_by_ctrl_c_and_killed_resume_after_their_last_committed_batch_and_redo_none(committed):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 5000)

    first = start_child_run()
    stop_child_after(first, 3, signal.SIGINT)  # Ctrl-C: one line, exit 130, committed batches kept
    at_interrupt = BackfillProgress.objects.get(backfill=COUNT_VISITS.name)
    stderr = first.stderr.read()
    assert first.returncode == 130, stderr
    assert stderr.strip() == (
        f"CommandError: Interrupted after 0 schema(s) done and {at_interrupt.rows:,} rows (tenant_acme stopped "
        f"after {at_interrupt.rows:,}); every committed batch is kept. Run the same command again to resume."
    )

    second = start_child_run()
    stop_child_after(second, at_interrupt.batches + 3, signal.SIGKILL)
    at_kill = BackfillProgress.objects.get(backfill=COUNT_VISITS.name)
    assert at_kill.finished_at is None and at_interrupt.batches + 3 <= at_kill.batches < 50
    # The progress row and the batches committed together: exactly the recorded rows are done.
    assert at_kill.rows == at_kill.batches * 100
    assert access_counts("tenant_acme") == {1: at_kill.rows, 0: 5000 - at_kill.rows}

    recorder = Recorder()
    result = BackfillRunner(COUNT_VISITS, observer=recorder).run(["tenant_acme"])

    assert result.outcomes[0].resumed_after == at_kill.last_pk
    assert recorder.batches[0].after == at_kill.last_pk
    assert len(recorder.batches) == 50 - at_kill.batches  # no batch done again
    assert access_counts("tenant_acme") == {1: 5000}  # every row once: a batch run twice would leave 2s
    done = BackfillProgress.objects.get(backfill=COUNT_VISITS.name)
    assert (done.batches, done.rows) == (50, 5000) and done.finished_at is not None


def test_while_200000_contexts_are_backfilled_another_connection_keeps_writing_and_no_lock_wait_passes_the_timeout(
    committed,
):
    """The required one: a writer updating random rows and inserting never stops, and a long transaction holds a row;
    the backfill's lock waits stay under its lock_timeout (measured in pg_locks.waitstart), the batch blocked by the
    long transaction is retried, and the writer waits at most about one batch."""
    tenant_create(slug="big", name="Big")
    seed("tenant_big", 200_000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM tenant_big.contexts")
        first_id, last_id = cursor.fetchone()
    connection.ensure_connection()
    helper_pid = backend_pid(connection)
    lock_timeout_ms = 200
    stop = threading.Event()
    writer_latencies: list[float] = []
    writer_errors: list[str] = []
    lock_waits: dict[str, float] = {"helper": 0.0, "writer": 0.0}

    writer = other_connection("test writer")
    writer_pid = writer.info.backend_pid
    with writer.cursor() as cursor:  # traffic, not data to keep: no flush of the WAL at each of its commits
        cursor.execute("SET synchronous_commit = off")

    def write() -> None:
        rng = random.Random(7)
        n = 0
        with writer.cursor() as cursor:
            while not stop.is_set():
                n += 1
                started = time.perf_counter()
                try:
                    if n % 4:
                        cursor.execute(
                            "UPDATE tenant_big.contexts SET content = content || '.', updated_at = now() WHERE id = %s",
                            [rng.randint(first_id, last_id - 1)],  # not the row the long transaction holds
                        )
                    else:
                        cursor.execute(
                            "INSERT INTO tenant_big.contexts (key, title, content, tags, metadata, version, "
                            "access_count, created_at, updated_at) VALUES (%s, '', 'new', '{}', '{}', 1, 0, now(), now())",
                            [f"new-{n}"],
                        )
                except psycopg2.Error as exc:
                    writer_errors.append(str(exc))
                writer_latencies.append(time.perf_counter() - started)

    def watch() -> None:
        with closing(other_connection("test lock watcher")) as conn, conn.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(
                    "SELECT l.pid, max(extract(epoch FROM clock_timestamp() - l.waitstart)) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database() "
                    "AND l.pid = ANY(%s) GROUP BY l.pid",
                    [[helper_pid, writer_pid]],
                )
                for pid, waited in cursor.fetchall():
                    who = "helper" if pid == helper_pid else "writer"
                    lock_waits[who] = max(lock_waits[who], float(waited or 0) * 1000)
                time.sleep(0.005)  # a sampling interval, not a wait for something to happen

    # And a long transaction (a slow request) holds the last row until the backfill has given up waiting for it.
    holder = other_connection("test row holder")
    holder.autocommit = False
    holder.cursor().execute("SELECT id FROM tenant_big.contexts WHERE id = %s FOR UPDATE", [last_id])

    class ReleaseOnRetry(Recorder):
        def batch_retry(self, retry: BatchRetry) -> None:
            super().batch_retry(retry)
            holder.rollback()

    threads = [threading.Thread(target=write), threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    recorder = ReleaseOnRetry()
    try:
        started = time.perf_counter()
        result = BackfillRunner(
            COUNT_VISITS, batch_size=2000, pause_s=0, lock_timeout_ms=lock_timeout_ms, retry_pause_s=0,
            observer=recorder,
        ).run(["tenant_big"])
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        writer.close()
        holder.close()

    outcome = result.outcomes[0]
    assert outcome.state == "done", outcome.error
    # Every row up to the table's highest key when the backfill started exactly once (the 200,000 and what the
    # writer had inserted by then); the writer's later rows are the live code's, and were left alone.
    high_water = BackfillProgress.objects.get(schema_name="tenant_big").high_water_pk
    assert high_water >= last_id
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE id <= %s AND access_count = 1), count(*) FILTER (WHERE id <= %s AND "
            "access_count <> 1), count(*) FILTER (WHERE id > %s AND access_count <> 0), count(*) FILTER "
            "(WHERE id > %s) FROM tenant_big.contexts",
            [high_water, high_water, high_water, high_water],
        )
        once, not_once, later_touched, later = cursor.fetchone()
    assert (not_once, later_touched) == (0, 0)
    assert once == outcome.rows >= 200_000 and later > 0
    assert outcome.batches == -(-once // 2000)
    # The writer kept writing the whole time, and every statement of it succeeded.
    assert writer_errors == []
    assert len(writer_latencies) > 100
    max_batch_ms = max(batch.duration_ms for batch in recorder.batches)
    # No statement of the backfill waited for a lock longer than its lock_timeout (pg_locks sampled every few ms;
    # PostgreSQL cancels a wait at lock_timeout, and the margin is the time it takes to notice on a busy machine) ...
    assert lock_waits["helper"] < lock_timeout_ms + 100
    # ... the writer waited for a lock at most as long as one batch holds its rows ...
    assert lock_waits["writer"] < max_batch_ms + 100
    # ... and it never stalled for a sizeable part of the run (its slowest statement includes disk and CPU waits).
    assert max(writer_latencies) < elapsed / 5
    # The batch that met the long transaction gave up at its lock_timeout and was retried, then committed;
    # any other retry was a lock timeout or a deadlock too.
    assert recorder.retries and recorder.retries[0].sqlstate == "55P03"
    assert lock_timeout_ms <= recorder.retries[0].waited_ms < lock_timeout_ms + 1000
    assert all(retry.sqlstate in ("55P03", "40P01") for retry in recorder.retries)
    assert sum(batch.retries for batch in recorder.batches) == len(recorder.retries) == outcome.retries
    held = next(batch for batch in recorder.batches if (batch.after or 0) < last_id <= batch.upto)
    assert held.retries >= 1
    print(
        f"\n{outcome.rows:,} rows in {elapsed:.1f} s, {len(recorder.batches)} batches (max {max_batch_ms:.0f} ms), "
        f"{len(recorder.retries)} retries; writer: {len(writer_latencies)} statements, "
        f"max {max(writer_latencies) * 1000:.0f} ms; longest lock waits seen: helper {lock_waits['helper']:.0f} ms, "
        f"writer {lock_waits['writer']:.0f} ms"
    )


# The command


def test_the_command_runs_a_backfill_and_reports_each_schema_then_a_summary(committed, test_backfills):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 250)
    out = StringIO()

    call_command("backfill", "test_count_visits", "--tenants", "acme", "--pause", "0", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/1] tenant_acme  done  250 rows in 3 batches  ")
    assert lines[0].endswith(" rows/s")
    assert lines[1].startswith(
        "Backfill test_count_visits: 1 schema(s) done, 0 already done, 0 waiting for their migration, 0 failed; "
        "250 rows in "
    )
    status = StringIO()
    call_command("backfill", "test_count_visits", "--status", stdout=status)
    assert status.getvalue().strip() == (
        "test_count_visits: 1/2 schemas done, 0 started, 1 not started, 0 waiting for "
        f"{COUNT_VISITS.requires_label}, 0 failed; 250 rows changed"
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("backfill", "test_count_visits", "--status", "--check", stdout=StringIO())
    assert exit_info.value.code == 1
    call_command("backfill", "test_count_visits", "--pause", "0", stdout=StringIO())
    call_command("backfill", "test_count_visits", "--status", "--check", stdout=StringIO())  # exits 0
    listing = StringIO()
    call_command("backfill", stdout=listing)
    assert "test_count_visits: 2/2 schemas done" in listing.getvalue()
    assert "test_title_from_key: 0/2 schemas done" in listing.getvalue()


def test_the_command_refuses_an_unknown_backfill_or_tenant_in_one_line_changing_nothing(committed, test_backfills):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 3)
    with pytest.raises(CommandError, match=r"^No backfill is named 'nope' \(registered: test_count_visits, "):
        call_command("backfill", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match=r"^No tenant has the slug 'initech'"):
        call_command("backfill", "test_count_visits", "--tenants", "acme,initech", stdout=StringIO())
    with pytest.raises(CommandError, match="--check goes with --status"):
        call_command("backfill", "test_count_visits", "--check", stdout=StringIO())
    assert access_counts("tenant_acme") == {0: 3}
    assert not BackfillProgress.objects.exists()


@pytest.mark.subprocess
def test_the_command_line_refuses_bad_input_in_one_line(committed):
    env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true"}
    for args, message in (
        (["backfill", "nope"], "CommandError: No backfill is named 'nope'"),
        (["backfill", "x", "--batch-size", "0"], "argument --batch-size: must be a whole number of 1 or more"),
        (["backfill", "x", "--pause", "-1"], "argument --pause: must be a whole number of 0 or more"),
    ):
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert message in result.stderr


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_command_draws_a_bar_then_the_summary_and_lines_when_asked(committed, test_backfills):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 250)
    out = Terminal()

    call_command("backfill", "test_count_visits", "--pause", "0", stdout=out)

    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "Backfilling" in text and "1/1" in text and "0 failed" in text
    assert "[1/1]" not in text  # on the bar, only failures get a line of their own
    assert "Backfill test_count_visits: 1 schema(s) done" in text

    lines = Terminal()
    call_command("backfill", "test_count_visits", "--progress", "lines", "--restart", "--pause", "0", stdout=lines,
                 stderr=StringIO())
    assert "Backfilling" not in lines.getvalue() and "[1/1] tenant_acme  done  250 rows in 3 batches" in lines.getvalue()
    assert access_counts("tenant_acme") == {2: 250}  # --restart forgot the progress: the same rows, once more
    assert "Forgot the progress of test_count_visits in 1 schema(s) first (--restart)." in lines.getvalue()


def test_json_reports_the_run_for_scripts(committed, test_backfills):
    tenant_create(slug="acme", name="Acme")
    seed("tenant_acme", 150)
    out = StringIO()

    call_command("backfill", "test_count_visits", "--pause", "0", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert (report["backfill"], report["done"], report["rows"], report["failed"]) == ("test_count_visits", 1, 150, 0)
    assert report["outcomes"][0]["batches"] == 2


def test_migration_status_shows_unfinished_backfills_and_its_check_ignores_them(committed, test_backfills):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 10)
    BackfillRunner(COUNT_VISITS).run(["tenant_acme"])
    out = StringIO()

    call_command("migration_status", "--check", stdout=out)  # the schemas are current: no SystemExit

    assert (
        f"Backfill test_count_visits: 1/2 schemas done, 0 started, 1 not started, 0 waiting for "
        f"{COUNT_VISITS.requires_label}, 0 failed; 10 rows changed: manage.py backfill test_count_visits."
    ) in out.getvalue()
    assert "Backfill test_title_from_key: 0/2 schemas done" in out.getvalue()
    document = StringIO()
    call_command("migration_status", "--json", stdout=document)
    backfills = {b["backfill"]: b for b in json.loads(document.getvalue())["backfills"]}
    assert (backfills["test_count_visits"]["done"], backfills["test_count_visits"]["complete"]) == (1, False)
    assert backfills["test_title_from_key"]["not_started"] == 2


# The README's worked example, end to end: expand, backfill, contract.

CONTENT_LENGTH = "tests.fleet_migrations.content_length"


def constraint_validated(schema_name: str, name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.convalidated FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = %s AND c.conname = %s", [schema_name, name],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_the_readmes_example_expand_backfill_contract_across_the_fleet(committed, settings):
    tenant_create(slug="acme", name="Acme")
    tenant_create(slug="globex", name="Globex")
    seed("tenant_acme", 1000)
    seed("tenant_globex", 300)
    settings.MIGRATION_MODULES = {"contexts": CONTENT_LENGTH}
    # The model has no such field in this code, so the backfill is written in SQL.
    register(Backfill(
        name="context_content_length", model="contexts.Context", requires=("contexts", "0002_context_content_length"),
        sql="UPDATE contexts SET content_length = length(content) WHERE id > %(after)s AND id <= %(upto)s "
            "AND content_length IS NULL",
        batch_size=250,
    ))
    try:
        # 1. Expand, on a canary tenant first.
        call_command("migrate_schemas", "--schema", "tenant_acme", "contexts", "0002_context_content_length",
                     stdout=StringIO())
        # 3. Backfill: acme is done, globex waits for its migration, and the gate stays shut.
        out = StringIO()
        call_command("backfill", "context_content_length", "--pause", "0", stdout=out)
        assert "[1/2] tenant_acme  done  1,000 rows in 4 batches" in out.getvalue()
        assert "[2/2] tenant_globex  waiting  needs contexts.0002_context_content_length" in out.getvalue()
        with pytest.raises(SystemExit):
            call_command("backfill", "context_content_length", "--status", "--check", stdout=StringIO())

        # The rest of the fleet: expand, then backfill (acme is not visited again).
        call_command("migrate_schemas", "--tenant", "contexts", "0002_context_content_length", stdout=StringIO())
        # A contract migration run before the backfill fails that schema cleanly: it stays where it was.
        with pytest.raises(CommandError, match="1 schema"):
            call_command("migrate_schemas", "--schema", "tenant_globex", stdout=StringIO(), stderr=StringIO())
        assert applied("tenant_globex")[-1] == "0002_context_content_length"
        assert constraint_validated("tenant_globex", "contexts_content_length_known") is None
        out = StringIO()
        call_command("backfill", "context_content_length", "--pause", "0", stdout=out)
        assert "[2/2] tenant_globex  done  300 rows in 2 batches" in out.getvalue()
        assert "1 schema(s) done, 1 already done" in out.getvalue()
        call_command("backfill", "context_content_length", "--status", "--check", stdout=StringIO())  # open

        # 4. Contract: the check added NOT VALID, then validated, in every schema.
        call_command("migrate_schemas", "--tenant", stdout=StringIO())
        assert constraint_validated("tenant_acme", "contexts_content_length_known") is True
        assert constraint_validated("tenant_globex", "contexts_content_length_known") is True
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT content_length, content FROM tenant_acme.contexts UNION ALL "
                "SELECT content_length, content FROM tenant_globex.contexts) c WHERE content_length = length(content)"
            )
            assert cursor.fetchone()[0] == 1300
    finally:
        unregister("context_content_length")
