"""Benchmark the summary worker: summaries per second with one and two workers, and queries per poll.

    python bench/summaries.py                      # 200 tenants, 3 contexts each, the extractive backend
    python bench/summaries.py --tenants 200 --contexts 5

One run on a fresh database (mcp_bench_summaries, dropped and created on the
server of DATABASE_URL, or the embedded one). Tenants are made by the service.
Throughput: the workers (manage.py process_summaries --forever, child processes
as in production) are started and polling first; then one transaction requests
a summary of every context of every tenant, and the clock runs from its commit
until the queue is empty. Queries per poll are counted in this process, with
10 tenants and then with 1,000 (the tenants past the real ones are rows only,
each with queue entries that are not due, since finding work never visits a
schema).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
BENCH_DATABASE = "mcp_bench_summaries"
PARAGRAPHS = [
    "The quarterly review found that churn fell to {n} percent after the onboarding redesign.",
    "Support tickets about billing doubled in March because invoices were sent twice to {n} customers.",
    "The team agreed to fix the invoice job before the April run and to add a lock around it.",
    "Onboarding completion rose from 54 to {n} percent, the largest gain this year.",
    "Marketing will present the new pricing page in May, with three plans instead of four.",
    "The next review is on 12 June, when the billing fix and the refund of {n} invoices will be checked.",
]


def content(n: int) -> str:
    """About 2 KB of prose that differs from one context to the next."""
    sentences = [PARAGRAPHS[(n + i) % len(PARAGRAPHS)].format(n=n % 97 + i) for i in range(24)]
    return "\n\n".join(" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4))


def setup_django(database_url: str) -> None:
    os.environ.update({"DATABASE_URL": database_url, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "mcp.settings",
                       "SUMMARIZER_BACKEND": "extractive"})
    import django

    django.setup()


def make_tenants(first: int, count: int, contexts: int) -> list:
    from django_tenants.utils import tenant_context

    from contexts.services import context_create
    from tenants.services import tenant_create

    made = []
    for number in range(first, first + count):
        tenant, _ = tenant_create(slug=f"bench-{number:04d}", name=f"Bench {number}")
        with tenant_context(tenant):
            for n in range(contexts):
                context_create(key=f"notes/{n}", title=f"Review {n}", content=content(number * 10 + n))
        made.append(tenant)
    return made


def request_all(tenants: list) -> int:
    """Request a summary of every context of every tenant, in one transaction; return how many."""
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from contexts.models import Context
    from contexts.summaries import summary_request

    count = 0
    with transaction.atomic():
        for tenant in tenants:
            with tenant_context(tenant):
                for context in Context.objects.all():
                    summary_request(context=context)
                    count += 1
    return count


def queue_length() -> int:
    from tenants.models import SummaryQueueEntry

    return SummaryQueueEntry.objects.filter(state="queued").count()


class Workers:
    """process_summaries --forever in child processes, polling before the work arrives; their output in files."""

    def __init__(self, count: int, directory: Path) -> None:
        self.logs = [directory / f"worker-{count}-{i}.log" for i in range(count)]
        self.processes = [
            subprocess.Popen([sys.executable, "manage.py", "process_summaries", "--forever", "--poll-interval", "0.05",
                              "--worker-id", f"bench-{i}"],
                             cwd=PROJECT_DIR, env=os.environ.copy(), stdout=log.open("w"), stderr=subprocess.STDOUT)
            for i, log in enumerate(self.logs)
        ]
        deadline = time.monotonic() + 60
        while not all("started" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                raise SystemExit("A worker did not start: " + " ".join(log.read_text()[-2000:] for log in self.logs))
            time.sleep(0.05)

    def stop(self) -> list[str]:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=60)
        return [log.read_text().strip().splitlines()[-1] for log in self.logs]


def throughput(tenants: list, worker_count: int, directory: Path) -> tuple[int, float, list[str]]:
    workers = Workers(worker_count, directory)
    try:
        requested = request_all(tenants)
        started = time.monotonic()
        while queue_length():
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        finals = workers.stop()
    return requested, elapsed, finals


def poll_queries() -> dict[str, float]:
    """Statements of an idle poll and of a poll that makes one summary, and the claim's median time."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from contexts.models import Context
    from contexts.summaries import summary_request
    from contexts.summarizer.queue import claim_next
    from contexts.summarizer.worker import Worker
    from tenants.models import Tenant

    reset_queries()  # DEBUG keeps the last 9,000 queries; past that a capture would come back empty
    worker = Worker(worker_id="bench-poll")
    tenant = Tenant.objects.filter(slug__startswith="bench-").order_by("slug").first()
    with tenant_context(tenant):
        summary_request(context=Context.objects.first())
    with CaptureQueriesContext(connection) as busy:
        outcome = worker.poll_once()
    assert outcome is not None and outcome.result == "succeeded", outcome
    with CaptureQueriesContext(connection) as idle:
        assert worker.poll_once() is None
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        assert claim_next(worker="bench-poll", claim_seconds=60) is None
        timings.append((time.perf_counter() - started) * 1000)
    worker.close()

    def statements(captured: CaptureQueriesContext) -> int:
        return sum(1 for query in captured.captured_queries if not query["sql"].startswith("SET search_path"))

    return {"idle": statements(idle), "busy": statements(busy), "busy_with_search_path": len(busy),
            "claim_ms": statistics.median(timings)}


def add_row_only_tenants(first: int, count: int) -> None:
    """Tenant rows without schemas, each with a queue entry waiting an hour and one failed for good."""
    from django.utils import timezone

    from tenants.models import SummaryQueueEntry, Tenant

    tenants = Tenant.objects.bulk_create([
        Tenant(slug=f"rows-{n:04d}", schema_name=f"tenant_rows_{n:04d}", name=f"Rows {n}")
        for n in range(first, first + count)
    ])
    later = timezone.now() + timezone.timedelta(hours=1)
    SummaryQueueEntry.objects.bulk_create(
        [SummaryQueueEntry(tenant=t, summary_id=1, context_id=1, due_at=later) for t in tenants]
        + [SummaryQueueEntry(tenant=t, summary_id=2, context_id=1, state="failed") for t in tenants]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200, help="Tenants for the throughput runs (default 200).")
    parser.add_argument("--contexts", type=int, default=3, help="Contexts per tenant (default 3).")
    args = parser.parse_args()

    from bench.migrations import fresh_database, server_params

    database_url = fresh_database(server_params(), BENCH_DATABASE)
    setup_django(database_url)
    from django.core.management import call_command

    from tenants.models import Tenant

    call_command("migrate_schemas", "--shared", verbosity=0)
    print(f"Database {BENCH_DATABASE}: making {args.tenants} tenants with {args.contexts} contexts each…", flush=True)

    tenants = make_tenants(0, 10, args.contexts)
    at_10 = poll_queries()
    tenants += make_tenants(10, args.tenants - 10, args.contexts)

    runs = {}
    directory = Path(tempfile.mkdtemp(prefix="bench-summaries-"))
    for worker_count in (1, 2):
        requested, elapsed, finals = throughput(tenants, worker_count, directory)
        runs[worker_count] = (requested, elapsed)
        print(f"  {worker_count} worker(s): {requested} summaries in {elapsed:.2f} s; " + " | ".join(finals), flush=True)

    add_row_only_tenants(0, 1000 - Tenant.objects.exclude(schema_name="public").count())
    at_1000 = poll_queries()
    assert Tenant.objects.exclude(schema_name="public").count() == 1000

    print()
    print(f"Summaries per second, extractive backend, {args.tenants} tenants x {args.contexts} contexts (~2 KB each)")
    print("| workers | summaries | seconds | summaries/s |")
    print("| --- | ---: | ---: | ---: |")
    for worker_count, (requested, elapsed) in runs.items():
        print(f"| {worker_count} | {requested} | {elapsed:.2f} | {requested / elapsed:.0f} |")
    print()
    print("Queries per poll (statements, not counting django-tenants' SET search_path before each)")
    print("| tenants | idle poll (finding no work) | poll making one summary | with SET search_path | claim, median ms |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for count, figures in ((10, at_10), (1000, at_1000)):
        print(f"| {count} | {figures['idle']} | {figures['busy']} | {figures['busy_with_search_path']} | "
              f"{figures['claim_ms']:.2f} |")


if __name__ == "__main__":
    main()
