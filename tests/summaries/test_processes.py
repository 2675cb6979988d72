"""Workers as real processes: two racing over the same work, one killed mid-summary, one told to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditLog
from contexts.models import Summary
from contexts.services import context_create
from contexts.summaries import summary_request
from tenants.models import SummaryQueueEntry
from tenants.services import tenant_create
from tests.conftest import PROJECT_DIR, child_database_url, run_manage
from tests.summaries.conftest import until

pytestmark = pytest.mark.subprocess


class WorkerProcess:
    """manage.py process_summaries in a child process, its output gathered line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        child_env = {**os.environ, "DATABASE_URL": child_database_url(), "DEBUG": "true", "PYTHONUNBUFFERED": "1",
                     **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "process_summaries", *args], cwd=PROJECT_DIR, env=child_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.finish()


def make_tenant(slug: str) -> Any:
    """A committed tenant (the shared make_tenant fixture works inside the test's transaction)."""
    return tenant_create(slug=slug, name=slug.title())[0]


def request_summaries(tenant: Any, count: int) -> list[int]:
    with tenant_context(tenant):
        return [summary_request(context=context_create(key=f"notes/{n}", content=f"Note {n} of {tenant.slug}. "
                                                       f"It says something about item {n}.")).pk
                for n in range(count)]


def summaries_of(tenant: Any) -> list[Summary]:
    with tenant_context(tenant):
        return list(Summary.objects.select_related("context").order_by("id"))


def test_two_workers_racing_over_the_same_work_make_each_summary_exactly_once(committed):
    tenants = [make_tenant(slug) for slug in ("acme", "globex", "initech")]
    workers = [WorkerProcess("--forever", "--poll-interval", "0.05", "--worker-id", name) for name in ("w1", "w2")]
    try:
        for worker in workers:
            until(lambda w=worker: w.printed("started"), what="a worker to start")
        for tenant in tenants:
            request_summaries(tenant, 20)
        until(lambda: not SummaryQueueEntry.objects.exists(), timeout=60,
              what=f"the queue to empty; the workers said {[worker.lines[-5:] for worker in workers]}")
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], [worker.lines[-3:] for worker in workers]

    made_by: Counter[str] = Counter()
    for tenant in tenants:
        for summary in summaries_of(tenant):
            assert (summary.status, summary.attempts) == ("succeeded", 1)
            assert tenant.slug in summary.text
            made_by[summary.processing_metadata["worker"]] += 1
    assert sum(made_by.values()) == 60 and set(made_by) == {"w1", "w2"}, made_by
    succeeded = Counter(AuditLog.objects.filter(action="summary.succeeded").values_list("tenant_slug", "target_id"))
    assert len(succeeded) == 60 and set(succeeded.values()) == {1}  # each summary recorded once
    finals = [next(line for line in worker.lines if line.startswith("Processed")) for worker in workers]
    assert sum(int(line.split()[1]) for line in finals) == 60


def test_a_worker_killed_mid_summary_loses_nothing_its_claim_lapses_and_another_takes_over(
        committed, chat_server):
    acme = make_tenant("acme")
    (summary_id,) = request_summaries(acme, 1)
    env = {"SUMMARIZER_BACKEND": "openai", "SUMMARIZER_URL": chat_server.url, "SUMMARIZER_MODEL": "local",
           "SUMMARIZER_CLAIM_SECONDS": "1"}
    with tenant_context(acme):
        Summary.objects.filter(pk=summary_id).update(backend="", model="")  # the worker's settings decide
    chat_server.default = "hold"  # the endpoint keeps the first worker waiting
    first = WorkerProcess("--forever", "--poll-interval", "0.05", "--worker-id", "doomed", env=env)
    second = None
    try:
        until(lambda: chat_server.requests, what="the first worker to call the endpoint")
        entry = SummaryQueueEntry.objects.get()
        assert entry.claimed_by == "doomed" and summaries_of(acme)[0].status == "running"
        second = WorkerProcess("--forever", "--poll-interval", "0.05", "--worker-id", "heir", env=env)
        until(lambda: second.printed("started"), what="the second worker to start")
        # The first renews its claim while it waits (every third of the lease): the second, polling, leaves it be.
        claimed_until = SummaryQueueEntry.objects.get().claimed_until
        until(lambda: SummaryQueueEntry.objects.get().claimed_until > claimed_until, what="the claim's renewal")
        assert len(chat_server.requests) == 1 and SummaryQueueEntry.objects.get().claimed_by == "doomed"

        chat_server.default = "answer"
        first.process.kill()  # kill -9: no chance to clean up
        assert first.finish() == -signal.SIGKILL
        assert SummaryQueueEntry.objects.get().claimed_by == "doomed"  # still claimed, until the lease lapses

        until(lambda: summaries_of(acme)[0].status == "succeeded", what="the second worker to take over")
    finally:
        if first.process.poll() is None:
            first.process.kill()
        if second is not None:
            assert second.stop() == 0
    (summary,) = summaries_of(acme)
    assert summary.attempts == 1 and summary.text.startswith("Summary: ")
    assert summary.processing_metadata["worker"] == "heir" and summary.processing_metadata["lost_claims"] == 1
    assert not SummaryQueueEntry.objects.exists()
    assert second.printed("taken over after 1 lapsed claim(s)")
    assert AuditLog.objects.filter(action="summary.succeeded").count() == 1


def test_sigterm_finishes_the_summary_in_hand_then_stops(committed, chat_server):
    acme = make_tenant("acme")
    first_id, second_id = request_summaries(acme, 2)
    env = {"SUMMARIZER_BACKEND": "openai", "SUMMARIZER_URL": chat_server.url, "SUMMARIZER_MODEL": "local"}
    with tenant_context(acme):
        Summary.objects.update(backend="", model="")
    chat_server.default = "hold"
    worker = WorkerProcess("--forever", "--poll-interval", "0.05", "--worker-id", "polite", env=env)
    until(lambda: chat_server.requests, what="the worker to call the endpoint")
    worker.process.send_signal(signal.SIGTERM)
    until(lambda: worker.printed("SIGTERM: finishing the summary in hand"), what="the worker to hear SIGTERM")
    assert worker.process.poll() is None  # still at work
    chat_server.release.set()

    assert worker.finish() == 0
    first, second = summaries_of(acme)
    assert (first.pk, first.status) == (first_id, "succeeded")
    assert (second.pk, second.status) == (second_id, "pending")
    entry = SummaryQueueEntry.objects.get()
    assert entry.summary_id == second_id and entry.claim_token is None and entry.claims == 0
    assert len(chat_server.requests) == 1
    assert worker.lines[-1].startswith("Processed 1 summaries in ") and "1 succeeded" in worker.lines[-1]


def test_the_worker_refuses_bad_settings_in_one_line_and_exits_1(db):
    # (db, not committed: the refusal touches no data, and a session of committed tests only gets no test database)
    bad_backend = run_manage("process_summaries", env={"SUMMARIZER_BACKEND": "gpt-magic"})
    assert bad_backend.returncode == 1
    assert bad_backend.stderr.strip().splitlines() == [
        "CommandError: SUMMARIZER_BACKEND='gpt-magic' is not a summarizer backend; use one of: extractive, openai."
    ]
    assert bad_backend.stdout == ""
