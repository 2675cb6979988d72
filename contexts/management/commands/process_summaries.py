"""Make the summaries every tenant is waiting for: one pass, or --forever."""

from __future__ import annotations

import argparse
import os
import signal
import socket
from typing import Any

from django.core.management.base import CommandError, CommandParser

from contexts.summarizer.config import settings_problems
from contexts.summarizer.worker import Outcome, Worker
from tenants.management.base import ProjectCommand, positive_int

RESULT_STYLES = {"succeeded": "SUCCESS", "retrying": "WARNING", "failed": "ERROR", "lost": "WARNING",
                 "error": "ERROR", "skipped": "NOTICE"}


def seconds(value: str) -> float:
    """Read a number of seconds above 0 (an argparse type)."""
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {value!r}")
    return number


class Command(ProjectCommand):
    help = (
        "Claim due summaries of every tenant, one at a time, run each one's backend and record the outcome in "
        "its tenant's schema; failures are retried later with backoff. Without --forever, stops when nothing is "
        "due. SIGTERM (or Ctrl-C) finishes the summary in hand, then stops. Run several for more throughput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forever", action="store_true", help="Keep polling for work until stopped.")
        parser.add_argument("--poll-interval", type=seconds, default=2.0,
                            help="With --forever: seconds to wait when nothing is due (default 2).")
        parser.add_argument("--limit", type=positive_int, help="Stop after this many summaries.")
        parser.add_argument("--worker-id", default="", help="How this worker is named in claims and metadata "
                            "(default host:pid).")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = settings_problems()
        if problems:
            raise CommandError(" ".join(problems))
        self.verbosity = options["verbosity"]
        self.summaries_seen = 0
        worker_id = options["worker_id"] or f"{socket.gethostname()}:{os.getpid()}"
        worker = Worker(worker_id=worker_id, report=self._report)
        previous = {sig: signal.signal(sig, self._stopper(worker)) for sig in (signal.SIGTERM, signal.SIGINT)}
        if self.verbosity >= 1:
            mode = f"polling every {options['poll_interval']:g} s" if options["forever"] else "one pass"
            self.stdout.write(f"Worker {worker_id} started ({mode}).")
        self.stdout.flush()
        try:
            counts = worker.run(forever=options["forever"], poll_interval=options["poll_interval"],
                                limit=options["limit"])
        finally:
            worker.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        totals = counts.as_dict()
        self.stdout.write(self.style.SUCCESS(
            f"Processed {totals['processed']} summaries in {totals['seconds']:.2f} s: {totals['succeeded']} succeeded, "
            f"{totals['retrying']} to retry, {totals['failed']} failed, {totals['skipped']} skipped, "
            f"{totals['claims_lost']} claims lost, {totals['errors']} errors."
        ))

    def _stopper(self, worker: Worker) -> Any:
        def stop(signum: int, frame: Any) -> None:
            if not worker.stop_requested.is_set():
                self.stdout.write(f"{signal.Signals(signum).name}: finishing the summary in hand, then stopping.")
                self.stdout.flush()
            worker.request_stop()
        return stop

    def _report(self, outcome: Outcome) -> None:
        if self.verbosity < 1 and outcome.result not in ("failed", "error"):
            return
        claim = outcome.claim
        self.summaries_seen += 1
        what = f"summary {claim.summary_id}"
        if outcome.context_key:
            what += f" ({outcome.context_key} v{outcome.context_version})"
        parts = [f"[{self.summaries_seen}]", claim.tenant.schema_name, what, outcome.result]
        if outcome.backend:
            parts += [outcome.model or outcome.backend, f"{outcome.duration_ms} ms"]
        if outcome.quality_score is not None:
            parts.append(f"quality {outcome.quality_score:.2f}")
        if claim.lost_claims and outcome.result == "succeeded":
            parts.append(f"taken over after {claim.lost_claims} lapsed claim(s)")
        if outcome.note:
            parts.append(outcome.note)
        style = getattr(self.style, RESULT_STYLES.get(outcome.result, "SUCCESS"))
        self.stdout.write(style("  ".join(parts)))
        self.stdout.flush()
