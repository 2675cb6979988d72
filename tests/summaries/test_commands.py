"""process_summaries and summary_status through call_command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from contexts.services import context_create
from contexts.summaries import summary_failed, summary_request
from tenants.models import SummaryQueueEntry


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def queue(make_tenant, settings):
    """acme: two due; globex: one failed for good; initech: one waiting to retry."""
    settings.SUMMARIZER_RETRY_BASE_SECONDS = 600
    acme, globex, initech = (make_tenant(slug) for slug in ("acme", "globex", "initech"))
    with tenant_context(acme):
        for key in ("a", "b"):
            summary_request(context=context_create(key=key, content=f"Context {key} says something."))
    with tenant_context(globex):
        summary_failed(summary=summary_request(context=context_create(key="g", content="x"), max_attempts=1),
                       error="endpoint down")
    with tenant_context(initech):
        summary_failed(summary=summary_request(context=context_create(key="i", content="x")), error="busy")
    return acme, globex, initech


def test_summary_status_counts_each_tenants_pending_running_and_failed(queue):
    lines = run("summary_status").splitlines()
    assert lines[0].split() == ["tenant", "pending", "due", "running", "failed", "oldest", "due"]
    assert lines[1].split()[:5] == ["acme", "2", "2", "0", "0"]
    assert lines[2].split() == ["globex", "0", "0", "0", "1", "-"]
    assert lines[3].split() == ["initech", "1", "0", "0", "0", "-"]
    assert lines[4].startswith("3 pending (2 due), 0 running, 1 failed across 3 tenant(s); oldest due ")


def test_summary_status_json_is_for_scripts(queue):
    document = json.loads(run("summary_status", "--json"))
    assert [row["tenant"] for row in document["tenants"]] == ["acme", "globex", "initech"]
    acme = document["tenants"][0]
    assert (acme["pending"], acme["due"], acme["running"], acme["failed"]) == (2, 2, 0, 0)
    assert acme["oldest_due_seconds"] >= 0
    assert {key: document["totals"][key] for key in ("tenants", "pending", "due", "running", "failed")} == {
        "tenants": 3, "pending": 3, "due": 2, "running": 0, "failed": 1}


def test_one_pass_makes_what_is_due_prints_a_line_each_and_a_count(queue):
    output = run("process_summaries", "--worker-id", "cli").splitlines()
    assert output[0] == "Worker cli started (one pass)."
    assert [line.split()[:2] for line in output[1:3]] == [["[1]", "tenant_acme"], ["[2]", "tenant_acme"]]
    assert all("succeeded" in line and "extractive-v1" in line and "quality" in line for line in output[1:3])
    assert output[3].startswith("Processed 2 summaries in ")
    assert output[3].endswith(": 2 succeeded, 0 to retry, 0 failed, 0 skipped, 0 claims lost, 0 errors.")
    assert SummaryQueueEntry.objects.filter(state="queued").count() == 1  # initech's, waiting to retry


def test_limit_stops_after_that_many_and_verbosity_0_prints_the_count_only(queue):
    assert run("process_summaries", "--limit", "1", "--verbosity", "0").startswith("Processed 1 summaries")
    assert SummaryQueueEntry.objects.filter(state="queued", tenant__slug="acme").count() == 1


@pytest.mark.parametrize("args, message", [
    (["--poll-interval", "0"], "argument --poll-interval: must be a number of seconds above 0, not '0'"),
    (["--poll-interval", "soon"], "argument --poll-interval: must be a number of seconds above 0, not 'soon'"),
    (["--limit", "0"], "argument --limit: must be a whole number of 1 or more, not '0'"),
])
def test_bad_arguments_are_refused_and_nothing_is_made(queue, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("process_summaries", *args, stdout=StringIO())
    assert SummaryQueueEntry.objects.filter(tenant__slug="acme", claims=0).count() == 2


def test_bad_settings_are_refused_before_anything_is_claimed(queue, settings):
    settings.SUMMARIZER_CLAIM_SECONDS = 0
    with pytest.raises(CommandError, match="^SUMMARIZER_CLAIM_SECONDS must be a number of seconds above 0.$"):
        call_command("process_summaries", stdout=StringIO())
    assert not SummaryQueueEntry.objects.filter(claims__gt=0).exists()
